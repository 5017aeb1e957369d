package socktest

// WithSource is withSource for the tests.
var WithSource = withSource
