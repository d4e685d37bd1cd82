package pdaau

// EffectiveAt is effectiveAt, for the tests of package pdaau_test.
var EffectiveAt = effectiveAt
