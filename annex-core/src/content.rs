//! Content locking and drop safety: KEY.lck locks and verified copies.
