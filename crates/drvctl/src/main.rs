//! drvctl (in progress): the command-line tool for installable drivers.

fn main() {
    eprintln!("drvctl: no commands yet");
    std::process::exit(2);
}
