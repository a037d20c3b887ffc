//! Placeholder: filled in by the jobs API tests.
