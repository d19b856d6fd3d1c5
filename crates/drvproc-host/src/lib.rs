//! The driver manager (in progress): loader, modules, instances, handles, registry.
