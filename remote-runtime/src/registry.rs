//! Named exports of a server: what `require(name)` resolves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::dispatch::Dispatch;
use crate::handle::exports::ObjKey;

#[derive(Clone)]
pub(crate) struct Export {
    pub(crate) object: Arc<dyn Dispatch>,
    pub(crate) key: ObjKey,
}

#[derive(Default)]
pub(crate) struct Registry {
    names: RwLock<HashMap<String, Export>>,
}

impl Registry {
    pub(crate) fn insert(&self, name: String, export: Export) -> Option<Export> {
        self.names
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, export)
    }

    pub(crate) fn remove(&self, name: &str) -> Option<Export> {
        self.names
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<Export> {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
}
