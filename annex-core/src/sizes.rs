//! Repository sizes: computed from the location logs into an SQLite database.
