package porting

// FromSets builds an Index held in memory only, without PostgreSQL (see fromSets): the
// benchmarks measure Lookup on millions of numbers without loading them from a database.
var FromSets = fromSets
