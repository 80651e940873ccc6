//! Offline commands (`check`, `review`): same code path as the server.
