//! Kubo test double (being written).
