package memory

import "testing"

func TestTheFloorRaisesGOGCOnlyWhileTheLiveHeapIsSmall(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{8 << 20, 256 << 20, 3100},  // 8 MiB live: collect at 256 MiB
		{0, 256 << 20, 6300},        // not measured yet: as if 4 MiB
		{128 << 20, 256 << 20, 100}, // half the floor: plain GOGC=100
		{1 << 30, 256 << 20, 100},   // above: plain GOGC=100
		{100 << 20, 256 << 20, 156}, // in between: target at the floor
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("live %d MiB, floor %d MiB: GOGC %d, want %d", c.live>>20, c.floor>>20, got, c.want)
		}
	}
}
