package main

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestC2SPPath pins the mapping of Go's sumdb tile paths to C2SP tlog-tiles paths, with the
// spec's own example of a large index (1234067 is x001/x234/067) and partial tiles.
func TestC2SPPath(t *testing.T) {
	for _, c := range []struct {
		tile tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 1, W: 46}, "tile/0/001.p/46"},
		{tlog.Tile{H: 8, L: 1, N: 0, W: 1}, "tile/1/000.p/1"},
		{tlog.Tile{H: 8, L: 0, N: 1000, W: 256}, "tile/0/x001/000"},
		{tlog.Tile{H: 8, L: 2, N: 1234067, W: 256}, "tile/2/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 0, W: 256}, "tile/entries/000"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 3}, "tile/entries/x001/x234/067.p/3"},
	} {
		if got := c2spPath(c.tile); got != c.want {
			t.Errorf("c2spPath(%+v) = %q, want %q", c.tile, got, c.want)
		}
	}
}
