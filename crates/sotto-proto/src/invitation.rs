//! (owned by the crypto work: see issue 3)
