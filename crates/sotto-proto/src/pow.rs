//! (owned by the onion/queue work: see issue 3)
