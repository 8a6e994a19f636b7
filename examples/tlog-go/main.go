// Command tlog-go checks a log written by `qledger publish DIR` with nothing but Go's own
// transparency-log code, golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog: the
// walkthrough of the README's "Auditing" section, run by tests/tlog_go.rs.
//
//	tlog-go DIR VKEY INDEX [OLD-CHECKPOINT]
//
// DIR is the published directory, VKEY the verifier key (its text, or a file holding it),
// INDEX the record to prove, OLD-CHECKPOINT a checkpoint file verified earlier (optional).
// It verifies DIR/checkpoint's signature (the origin must be the key's name), checks that the
// hash tiles give the signed root, reads entry INDEX from its entry bundle (and checks every
// entry of that bundle against the tiles), proves and checks the entry's inclusion, and, with
// OLD-CHECKPOINT, proves and checks that the old tree is a prefix of the new one. It prints
// what it verified and exits 1 on any failure (2 on a usage error).
//
// Run it from the repository root with Debian 12's packages (no module download):
//
//	apt-get install golang-go golang-golang-x-mod-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go run ./examples/tlog-go DIR VKEY INDEX [OLD]
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is C2SP tlog-tiles' fixed height: 256 hashes or entries per tile.
const tileHeight = 8

func main() {
	if len(os.Args) != 4 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: tlog-go DIR VKEY INDEX [OLD-CHECKPOINT]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4:]); err != nil {
		fmt.Fprintln(os.Stderr, "tlog-go: FAILED:", err)
		os.Exit(1)
	}
}

func run(dir, vkeyArg, indexArg string, old []string) error {
	vkey := vkeyArg
	if text, err := os.ReadFile(vkeyArg); err == nil {
		vkey = strings.TrimSpace(string(text))
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %v", err)
	}
	index, err := strconv.ParseInt(indexArg, 10, 64)
	if err != nil || index < 0 {
		return fmt.Errorf("INDEX %q is not a record index", indexArg)
	}

	cp, err := readCheckpoint(filepath.Join(dir, "checkpoint"), verifier)
	if err != nil {
		return err
	}
	fmt.Printf("checkpoint: origin %s, size %d, root %s, signed by %s (key ID %08x)\n",
		cp.origin, cp.size, base64.StdEncoding.EncodeToString(cp.root[:]), verifier.Name(), verifier.KeyHash())
	for _, ext := range cp.extensions {
		fmt.Printf("extension: %s\n", ext)
	}
	if cp.size == 0 {
		return errors.New("the tree is empty: there is no record to prove")
	}
	if index >= cp.size {
		return fmt.Errorf("record %d is not in a tree of size %d", index, cp.size)
	}

	// Every hash read through this reader comes from tiles that were first checked to give
	// the signed root (tlog.TileHashReader authenticates them before returning any hash).
	tiles := &tileReader{dir: dir, seen: map[string]bool{}}
	hashes := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tiles)
	root, err := tlog.TreeHash(cp.size, hashes)
	if err != nil {
		return fmt.Errorf("the hash tiles do not give the signed root: %v", err)
	}
	if root != cp.root {
		return fmt.Errorf("the hash tiles give root %v, the checkpoint signs %v", root, cp.root)
	}
	fmt.Printf("tiles: give the signed root\n")

	entry, err := readEntry(dir, cp.size, index, hashes)
	if err != nil {
		return err
	}
	leaf := tlog.RecordHash(entry)
	proof, err := tlog.ProveRecord(cp.size, index, hashes)
	if err != nil {
		return fmt.Errorf("inclusion proof of record %d: %v", index, err)
	}
	if err := tlog.CheckRecord(proof, cp.size, cp.root, index, leaf); err != nil {
		return fmt.Errorf("record %d is not included in the signed tree: %v", index, err)
	}
	fmt.Printf("record %d: %d bytes, leaf hash %s, included in the tree of size %d (proof of %d hashes checked)\n",
		index, len(entry), base64.StdEncoding.EncodeToString(leaf[:]), cp.size, len(proof))
	fmt.Printf("entry: %s\n", hex.EncodeToString(entry))

	if len(old) == 1 {
		prev, err := readCheckpoint(old[0], verifier)
		if err != nil {
			return err
		}
		if err := checkConsistency(prev, cp, hashes); err != nil {
			return err
		}
		fmt.Printf("consistent: the tree of size %d (root %s) is a prefix of the tree of size %d\n",
			prev.size, base64.StdEncoding.EncodeToString(prev.root[:]), cp.size)
	}
	fmt.Printf("hash tiles read, each authenticated: %s\n", strings.Join(tiles.read, ", "))
	return nil
}

// checkpoint is a verified C2SP tlog-checkpoint body.
type checkpoint struct {
	origin     string
	size       int64
	root       tlog.Hash
	extensions []string
}

// readCheckpoint opens the signed note in file with verifier (a signature by that key must
// verify) and parses its body: origin (the key's name), decimal size, base64 root, then
// extension lines.
func readCheckpoint(file string, verifier note.Verifier) (*checkpoint, error) {
	msg, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("%s: no valid signature by %s: %v", file, verifier.Name(), err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("%s: a checkpoint has at least 3 lines, this one %d", file, len(lines))
	}
	cp := &checkpoint{origin: lines[0], extensions: lines[3:]}
	if cp.origin != verifier.Name() {
		return nil, fmt.Errorf("%s: origin %q is not the key's name %q", file, cp.origin, verifier.Name())
	}
	cp.size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || cp.size < 0 || strconv.FormatInt(cp.size, 10) != lines[1] {
		return nil, fmt.Errorf("%s: size %q is not a decimal number without leading zeros", file, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, fmt.Errorf("%s: root %q is not a base64 SHA-256 hash", file, lines[2])
	}
	copy(cp.root[:], root)
	for _, ext := range cp.extensions {
		if ext == "" {
			return nil, fmt.Errorf("%s: an empty extension line", file)
		}
	}
	return cp, nil
}

// checkConsistency proves with the new tree's tiles that the old tree is its prefix.
func checkConsistency(old, cp *checkpoint, hashes tlog.HashReader) error {
	if old.origin != cp.origin {
		return fmt.Errorf("the old checkpoint is of log %q, not %q", old.origin, cp.origin)
	}
	if old.size > cp.size {
		return fmt.Errorf("rollback: the old checkpoint has size %d, the new one %d", old.size, cp.size)
	}
	if old.size == 0 {
		if old.root != tlog.Hash(sha256.Sum256(nil)) {
			return fmt.Errorf("the old checkpoint's empty tree has root %v, not SHA-256 of nothing", old.root)
		}
		return nil
	}
	proof, err := tlog.ProveTree(cp.size, old.size, hashes)
	if err != nil {
		return fmt.Errorf("consistency proof from size %d: %v", old.size, err)
	}
	if err := tlog.CheckTree(proof, cp.size, cp.root, old.size, old.root); err != nil {
		return fmt.Errorf("fork: the tree of size %d is not a prefix of the tree of size %d: %v", old.size, cp.size, err)
	}
	return nil
}

// tileReader serves tlog's tiles from a C2SP tlog-tiles directory. Go's sumdb paths carry the
// tile height, tile/8/<L>/<N>[.p/<W>]; C2SP's do not, tile/<L>/<N>[.p/<W>]. <N> is encoded
// the same way in both (3-digit groups, all but the last prefixed with x: x001/x234/067).
type tileReader struct {
	dir  string
	read []string        // the paths read, in order, each once
	seen map[string]bool // the paths in read
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2spPath(t)
		b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(path)))
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, a tile of width %d has %d", path, len(b), t.W, t.W*tlog.HashSize)
		}
		data[i] = b
		if !r.seen[path] {
			r.seen[path] = true
			r.read = append(r.read, path)
		}
	}
	return data, nil
}

// SaveTiles would cache authenticated tiles; this reader reads a local directory.
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// c2spPath is the C2SP tlog-tiles path of t: its Go path without the height, and for entry
// bundles (tlog's level -1, "data") "entries".
func c2spPath(t tlog.Tile) string {
	prefix := fmt.Sprintf("tile/%d/", tileHeight)
	path := strings.TrimPrefix(t.Path(), prefix)
	if t.L == -1 {
		return "tile/entries/" + strings.TrimPrefix(path, "data/")
	}
	return "tile/" + path
}

// readEntry reads record index from its entry bundle (each entry a big-endian uint16 length
// and the entry's bytes), after checking every entry of the bundle against its leaf hash in
// the authenticated tiles.
func readEntry(dir string, size, index int64, hashes tlog.HashReader) ([]byte, error) {
	bundle := tlog.Tile{H: tileHeight, L: -1, N: index >> tileHeight, W: 1 << tileHeight}
	if end := (bundle.N + 1) << tileHeight; end > size {
		bundle.W = int(size - bundle.N<<tileHeight)
	}
	path := c2spPath(bundle)
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for rest := data; len(rest) > 0; {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%s: a truncated length after %d entries", path, len(entries))
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return nil, fmt.Errorf("%s: entry %d is cut short", path, len(entries))
		}
		entries = append(entries, rest[2:2+n])
		rest = rest[2+n:]
	}
	if len(entries) != bundle.W {
		return nil, fmt.Errorf("%s: %d entries, the bundle has %d", path, len(entries), bundle.W)
	}
	first := bundle.N << tileHeight
	indexes := make([]int64, len(entries))
	for i := range entries {
		indexes[i] = tlog.StoredHashIndex(0, first+int64(i))
	}
	leaves, err := hashes.ReadHashes(indexes)
	if err != nil {
		return nil, fmt.Errorf("the leaf hashes of %s: %v", path, err)
	}
	for i, e := range entries {
		if h := tlog.RecordHash(e); h != leaves[i] {
			return nil, fmt.Errorf("%s: entry %d hashes to %v, the tiles hold %v", path, first+int64(i), h, leaves[i])
		}
	}
	fmt.Printf("bundle %s: %d entries, each matching its leaf hash in the tiles\n", path, len(entries))
	return entries[index-first], nil
}
