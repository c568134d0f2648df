package pipeline

// SetTestHookOpen makes f run just before each entry is opened, after the
// walk has looked at it, until the test ends.
func SetTestHookOpen(t interface{ Cleanup(func()) }, f func(rel string)) {
	testHookOpen = f
	t.Cleanup(func() { testHookOpen = nil })
}
