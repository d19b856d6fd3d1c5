//! Property tests: the INI document round-trips and edits as a map would.

use drvproc_host::IniDocument;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9._]{0,8}"
}

fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._/=\\[\\] -]{0,16}"
        .prop_map(|v| v.trim().to_string())
        .prop_filter("non-empty", |v| !v.is_empty())
}

#[derive(Clone, Debug)]
enum Item {
    Comment(String),
    Blank,
    Entry(String, String),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        "[ -~]{0,20}".prop_map(|c| Item::Comment(format!(";{c}"))),
        Just(Item::Blank),
        (name(), value()).prop_map(|(k, v)| Item::Entry(k, v)),
    ]
}

fn document() -> impl Strategy<Value = String> {
    (prop::collection::vec((name(), prop::collection::vec(item(), 0..6)), 0..5), any::<bool>(), any::<bool>())
        .prop_map(|(sections, crlf, final_newline)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut lines = Vec::new();
            for (section, items) in sections {
                lines.push(format!("[{section}]"));
                for item in items {
                    lines.push(match item {
                        Item::Comment(c) => c,
                        Item::Blank => String::new(),
                        Item::Entry(k, v) => format!("{k}={v}"),
                    });
                }
            }
            let mut text = lines.join(nl);
            if final_newline && !text.is_empty() {
                text.push_str(nl);
            }
            text
        })
}

proptest! {
    #[test]
    fn render_of_parse_is_identity(text in document()) {
        let doc = IniDocument::parse(&text);
        prop_assert_eq!(doc.to_string(), text);
    }

    #[test]
    fn set_then_get_and_nothing_else_changes(text in document(), section in name(), key in name(), v in value()) {
        let mut doc = IniDocument::parse(&text);
        let before: Vec<(String, Vec<(String, String)>)> = doc
            .sections()
            .iter()
            .map(|s| (s.to_string(), doc.entries(s).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
            .collect();
        doc.set(&section, &key, &v);
        prop_assert_eq!(doc.get(&section, &key), Some(v.as_str()));
        let reparsed = IniDocument::parse(&doc.to_string());
        prop_assert_eq!(reparsed.get(&section, &key), Some(v.as_str()));
        for (s, entries) in before {
            for (k, old) in entries {
                if s.eq_ignore_ascii_case(&section) && k.eq_ignore_ascii_case(&key) {
                    continue;
                }
                prop_assert_eq!(reparsed.get(&s, &k), Some(old.as_str()));
            }
        }
        doc.remove(&section, &key);
        let removed = IniDocument::parse(&doc.to_string());
        prop_assert_eq!(removed.get(&section, &key), None);
    }
}
