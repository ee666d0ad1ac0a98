//! The objects that hold secrets: peppers and fresh keys. They are objects,
//! not records, so that no generated `toString` or `description` can print
//! a secret; their `Debug` (Kotlin `toString`, Swift `debugDescription`)
//! redacts it.

use std::fmt;
use std::sync::Arc;

use crate::errors::Result;
use crate::types::KeyInfo;

/// A server-side secret mixed into every key hash (HMAC-SHA256), with an id
/// so that it can be rotated.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct Pepper {
    pub(crate) inner: keyhouse::Pepper,
}

#[uniffi::export]
impl Pepper {
    /// A pepper named `id` (1–32 characters of `[a-z0-9_]`) with at least 16 bytes of secret.
    #[uniffi::constructor]
    pub fn new(id: String, secret: Vec<u8>) -> Result<Arc<Self>> {
        Ok(Arc::new(Pepper { inner: keyhouse::Pepper::new(&id, &secret)? }))
    }

    /// The pepper's id, stored with every hash made with it.
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// The core pepper of each object.
pub fn core_peppers(peppers: &[Arc<Pepper>]) -> Vec<keyhouse::Pepper> {
    peppers.iter().map(|p| p.inner.clone()).collect()
}

/// A key made without a store: the plaintext to hand out once, and the hash to keep.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct GeneratedKey {
    pub(crate) inner: keyhouse::GeneratedKey,
}

#[uniffi::export]
impl GeneratedKey {
    /// The plaintext key. Hand it to its holder once; store only `hash`.
    pub fn key(&self) -> String {
        self.inner.key.clone()
    }

    /// The public key id.
    pub fn id(&self) -> String {
        self.inner.id.clone()
    }

    /// The prefix.
    pub fn prefix(&self) -> String {
        self.inner.prefix.clone()
    }

    /// The tagged hash to store.
    pub fn hash(&self) -> String {
        self.inner.hash.clone()
    }
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A key just created: the plaintext, shown once, and its info.
#[derive(uniffi::Object)]
#[uniffi::export(Debug)]
pub struct CreatedKey {
    key: String,
    info: KeyInfo,
}

impl CreatedKey {
    /// Wraps a core key for the bindings.
    pub fn wrap(created: keyhouse::CreatedKey) -> Arc<Self> {
        Arc::new(CreatedKey { key: created.key, info: created.info.into() })
    }
}

#[uniffi::export]
impl CreatedKey {
    /// The plaintext key. It is not stored and cannot be shown again.
    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The stored info.
    pub fn info(&self) -> KeyInfo {
        self.info.clone()
    }
}

impl fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedKey").field("key", &"<redacted>").field("id", &self.info.id).finish()
    }
}
