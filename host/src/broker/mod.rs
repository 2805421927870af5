//! Paper broker: risk checks, fills, positions and the journal.
