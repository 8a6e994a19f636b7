//! Transparency-log building blocks (issue 10), pure and storage-independent.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tiles;
