//! A station directory: create, open, and where its files live.
