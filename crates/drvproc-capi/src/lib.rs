//! The C ABI of drvproc (in progress): the Windows driver-manager functions over drvproc-host.
