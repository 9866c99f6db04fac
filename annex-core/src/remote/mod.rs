//! Remotes: the trait every kind implements, and git remotes on this machine.
