package zmtp

import (
	"testing"

	"go.uber.org/goleak"
)

// The codec starts no goroutines; keep it that way.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
