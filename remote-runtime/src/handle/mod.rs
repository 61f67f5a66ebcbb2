//! Handle tables: what this side lent (exports) and borrowed (imports).

pub(crate) mod imports;
