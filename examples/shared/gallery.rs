//! A main process's image gallery, handed to renderers as a shared buffer
//! or as a `Vec<u8>`: shared by the `images` example and the shared-buffer
//! tests.

use remote::{remote_object, SharedBuffer};
use serde::{Deserialize, Serialize};

/// What a process found in an image it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspected {
    pub len: u64,
    pub checksum: u64,
    /// Whether the bytes arrived as shared memory (no copy).
    pub shared_memory: bool,
}

/// Images the main process owns.
#[remote_object]
pub trait Gallery: Send + Sync {
    /// The image as a shared buffer: its memory crosses, not its bytes.
    fn image_shared(&self) -> SharedBuffer;
    /// The same image as bytes, copied across.
    fn image_bytes(&self) -> Vec<u8>;
    /// Looks at an image a renderer sends.
    fn inspect(&self, image: SharedBuffer) -> Inspected;
}

/// A gallery of one image, made once.
pub struct MainGallery {
    pub image: SharedBuffer,
    bytes: Vec<u8>,
}

impl MainGallery {
    /// An image of `len` bytes with a recognisable pattern.
    pub fn new(len: usize) -> MainGallery {
        let bytes = pattern(len, 1);
        MainGallery {
            image: SharedBuffer::new(&bytes),
            bytes,
        }
    }
}

impl Gallery for MainGallery {
    fn image_shared(&self) -> SharedBuffer {
        self.image.clone()
    }
    fn image_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
    fn inspect(&self, image: SharedBuffer) -> Inspected {
        inspect(&image)
    }
}

/// `len` bytes of a pattern that depends on `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8)
        .collect()
}

/// A checksum that reads every byte.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(0u64, |acc, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        acc.rotate_left(5) ^ u64::from_le_bytes(word)
    })
}

/// What a process finds in `image`.
pub fn inspect(image: &SharedBuffer) -> Inspected {
    Inspected {
        len: image.len() as u64,
        checksum: checksum(image),
        shared_memory: image.is_shared_memory(),
    }
}
