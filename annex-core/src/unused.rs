//! `unused`: the keys whose content is in the object store but that no
//! branch, tag or the index uses, and the `.git/annex/unused` list.
