//! Placeholder: filled in by the scan engine tests.
