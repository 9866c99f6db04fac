//! Preferred-content expressions: parsing, evaluation, standard groups, balanced choice.
