package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

// readerMode is one way of feeding bytes to a Reader.
type readerMode struct {
	name string
	new  func(b []byte) *Reader
}

var readerModes = []readerMode{
	{"default", func(b []byte) *Reader { return NewReader(bytes.NewReader(b), 0, nil) }},
	{"onebyte", func(b []byte) *Reader { return NewReader(iotest.OneByteReader(bytes.NewReader(b)), 0, nil) }},
	{"half", func(b []byte) *Reader { return NewReader(iotest.HalfReader(bytes.NewReader(b)), 0, nil) }},
	{"dataerr", func(b []byte) *Reader { return NewReader(iotest.DataErrReader(bytes.NewReader(b)), 0, nil) }},
	{"stutter", func(b []byte) *Reader { return NewReader(&stutterReader{r: bytes.NewReader(b)}, 0, nil) }},
	{"buf1", func(b []byte) *Reader { return NewReader(bytes.NewReader(b), 1, nil) }},
	{"buf9", func(b []byte) *Reader { return NewReader(bytes.NewReader(b), MaxHeaderSize, nil) }},
	{"buf16-onebyte", func(b []byte) *Reader { return NewReader(iotest.OneByteReader(bytes.NewReader(b)), 16, nil) }},
	{"buf64", func(b []byte) *Reader { return NewReader(bytes.NewReader(b), 64, nil) }},
	{"buf300-half", func(b []byte) *Reader { return NewReader(iotest.HalfReader(bytes.NewReader(b)), 300, nil) }},
	{"pending-all", func(b []byte) *Reader { return NewReader(bytes.NewReader(nil), 0, b) }},
	{"pending-half-buf4", func(b []byte) *Reader {
		return NewReader(iotest.OneByteReader(bytes.NewReader(b[len(b)/2:])), 4, b[:len(b)/2])
	}},
}

// stutterReader returns (0, nil) before every real read, which io.Reader
// allows ("nothing happened"), and hands out at most 3 bytes at a time.
type stutterReader struct {
	r    io.Reader
	odd  bool
	read int
}

func (s *stutterReader) Read(p []byte) (int, error) {
	s.odd = !s.odd
	if s.odd {
		return 0, nil
	}
	if len(p) > 3 {
		p = p[:3]
	}
	return s.r.Read(p)
}

func longFrame(flags byte, body []byte) []byte {
	b := []byte{flags | FlagLong}
	b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	return append(b, body...)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// validFrames is a varied set of well-formed frames: everything libzmq sent in
// the captures plus edge cases of our own.
func validFrames(tb testing.TB) [][]byte {
	fs := allCaptureFrames(tb)
	fs = append(fs,
		AppendFrame(nil, 0, nil),
		AppendFrame(nil, FlagMore, []byte("x")),
		AppendFrame(nil, 0, pattern(255)),
		AppendFrame(nil, FlagMore, pattern(256)),
		AppendFrame(nil, 0xf8, []byte("reserved bits")), // reserved bits are ignored
		longFrame(0, nil),
		longFrame(FlagMore, []byte("abc")),
		longFrame(FlagCommand, append([]byte{4}, "PING\x00\x01"...)),
		AppendPing(nil, 65535, []byte("0123456789abcdef")),
		AppendError(nil, "no"),
		AppendReady(nil, Metadata{{PropSocketType, []byte(TypeRouter)}, {PropIdentity, pattern(300)}}),
		AppendSubscription30(nil, true, []byte("topic")),
	)
	return fs
}

func TestParseFrameTruncated(t *testing.T) {
	for fi, f := range validFrames(t) {
		wantFlags, wantBody, n, err := ParseFrame(f, 0)
		if err != nil || n != len(f) {
			t.Fatalf("frame %d %x: n=%d err=%v", fi, f, n, err)
		}
		_, size, hn, err := ParseFrameHeader(f, 0)
		if err != nil || int(size) != len(wantBody) || hn+int(size) != len(f) {
			t.Fatalf("frame %d: header size=%d hn=%d err=%v", fi, size, hn, err)
		}
		for i := 0; i < len(f); i++ {
			want := io.ErrUnexpectedEOF
			if i == 0 {
				want = io.EOF
			}
			flags, body, n, err := ParseFrame(f[:i], 0)
			if err != want || flags != 0 || body != nil || n != 0 {
				t.Errorf("frame %d cut %d: ParseFrame = %#x %x %d %v, want %v", fi, i, flags, body, n, err, want)
			}
			hflags, hsize, hn2, err := ParseFrameHeader(f[:i], 0)
			if i < hn {
				if err != want {
					t.Errorf("frame %d cut %d: ParseFrameHeader err %v, want %v", fi, i, err, want)
				}
			} else if err != nil || hflags != wantFlags || hsize != size || hn2 != hn {
				t.Errorf("frame %d cut %d: ParseFrameHeader = %#x %d %d %v", fi, i, hflags, hsize, hn2, err)
			}
			for _, mode := range readerModes {
				r := mode.new(f[:i])
				if _, _, _, err := r.ReadFrame(); err != want {
					t.Errorf("frame %d cut %d %s: ReadFrame err %v, want %v", fi, i, mode.name, err, want)
				}
			}
		}
		for _, mode := range readerModes {
			r := mode.new(f)
			flags, body, _, err := r.ReadFrame()
			if err != nil || flags != wantFlags || !bytes.Equal(body, wantBody) {
				t.Errorf("frame %d %s: ReadFrame = %#x %x %v", fi, mode.name, flags, body, err)
			}
			if _, _, _, err := r.ReadFrame(); err != io.EOF {
				t.Errorf("frame %d %s: after frame: %v, want io.EOF", fi, mode.name, err)
			}
		}
	}
}

// A stream of frames cut at every offset yields exactly the frames wholly
// before the cut, then io.EOF at a frame boundary or io.ErrUnexpectedEOF.
func TestReaderStreamCutEverywhere(t *testing.T) {
	frames := validFrames(t)
	var stream []byte
	var ends []int
	boundary := map[int]bool{0: true}
	for _, f := range frames {
		stream = append(stream, f...)
		ends = append(ends, len(stream))
		boundary[len(stream)] = true
	}
	type want struct {
		flags byte
		body  []byte
	}
	var wants []want
	for _, f := range frames {
		flags, body, _, _ := ParseFrame(f, 0)
		wants = append(wants, want{flags, body})
	}
	modes := readerModes
	if testing.Short() {
		modes = modes[:2]
	}
	for cut := 0; cut <= len(stream); cut++ {
		nWhole := 0
		for nWhole < len(ends) && ends[nWhole] <= cut {
			nWhole++
		}
		wantErr := io.ErrUnexpectedEOF
		if boundary[cut] {
			wantErr = io.EOF
		}
		for _, mode := range modes {
			r := mode.new(stream[:cut])
			for i := 0; i < nWhole; i++ {
				flags, body, _, err := r.ReadFrame()
				if err != nil || flags != wants[i].flags || !bytes.Equal(body, wants[i].body) {
					t.Fatalf("cut %d %s frame %d: %#x %x %v", cut, mode.name, i, flags, body, err)
				}
			}
			if _, _, _, err := r.ReadFrame(); err != wantErr {
				t.Fatalf("cut %d %s after %d frames: %v, want %v", cut, mode.name, nWhole, err, wantErr)
			}
		}
	}
}

// The long form is accepted for any size, the short form for 0..255, and
// AppendFrame uses the long form only above 255.
func TestFrameForms(t *testing.T) {
	for size := 0; size <= 300; size++ {
		body := pattern(size)
		for _, flags := range []byte{0, FlagMore, FlagCommand} {
			lf := longFrame(flags, body)
			gf, gb, n, err := ParseFrame(lf, 0)
			if err != nil || gf != flags|FlagLong || !bytes.Equal(gb, body) || n != len(lf) {
				t.Fatalf("long %d/%#x: %#x %d %v", size, flags, gf, n, err)
			}
			for _, bufSize := range []int{MaxHeaderSize, 64, 0} {
				r := NewReader(iotest.HalfReader(bytes.NewReader(lf)), bufSize, nil)
				gf, gb, _, err := r.ReadFrame()
				if err != nil || gf != flags|FlagLong || !bytes.Equal(gb, body) {
					t.Fatalf("long %d/%#x buf %d: Reader %#x %v", size, flags, bufSize, gf, err)
				}
			}

			enc := AppendFrame(nil, flags, body)
			wantHdr := 2
			if size > MaxShortSize {
				wantHdr = 9
			}
			if len(enc) != wantHdr+size {
				t.Fatalf("AppendFrame(%d) header %d bytes, want %d", size, len(enc)-size, wantHdr)
			}
			if size > MaxShortSize && !bytes.Equal(enc, lf) {
				t.Fatalf("AppendFrame(%d) = %x, want %x", size, enc[:9], lf[:9])
			}
			gf, gb, n, err = ParseFrame(enc, 0)
			if err != nil || gf&^FlagLong != flags || !bytes.Equal(gb, body) || n != len(enc) {
				t.Fatalf("short %d/%#x: %#x %d %v", size, flags, gf, n, err)
			}
		}
	}
	// A caller passing FlagLong for a small frame still gets the short form.
	if got := AppendFrame(nil, FlagLong|FlagMore, []byte("a")); !bytes.Equal(got, []byte{FlagMore, 1, 'a'}) {
		t.Errorf("AppendFrame(FlagLong, small) = %x", got)
	}
	// Appending keeps what is already in dst.
	if got := AppendFrame([]byte("xy"), 0, []byte("a")); !bytes.Equal(got, []byte{'x', 'y', 0, 1, 'a'}) {
		t.Errorf("AppendFrame onto dst = %x", got)
	}
	// body is capped so appending to it cannot overwrite the next frame.
	two := append(AppendFrame(nil, 0, []byte("ab")), AppendFrame(nil, 0, []byte("cd"))...)
	_, b1, _, _ := ParseFrame(two, 0)
	if cap(b1) != len(b1) {
		t.Errorf("ParseFrame body cap %d, len %d", cap(b1), len(b1))
	}
}

// Frames whose header and body together overflow the Reader's buffer, for
// every buffer size and body size around the buffer size.
func TestReaderBufferBoundaries(t *testing.T) {
	for _, bufSize := range []int{1, MaxHeaderSize, 10, 16, 64, 256, 300} {
		for size := 0; size <= 3*bufSize+10; size++ {
			body := pattern(size)
			stream := AppendFrame(nil, FlagMore, body)
			stream = append(stream, longFrame(0, body)...)
			stream = AppendFrame(stream, 0, []byte("next"))
			for _, wrap := range []struct {
				name string
				f    func(io.Reader) io.Reader
			}{
				{"plain", func(r io.Reader) io.Reader { return r }},
				{"onebyte", iotest.OneByteReader},
				{"half", iotest.HalfReader},
			} {
				r := NewReader(wrap.f(bytes.NewReader(stream)), bufSize, nil)
				for i, want := range []struct {
					flags byte
					body  []byte
				}{{FlagMore, body}, {FlagLong, body}, {0, []byte("next")}} {
					flags, got, owned, err := r.ReadFrame()
					if err != nil || flags&^FlagLong != want.flags&^FlagLong || !bytes.Equal(got, want.body) {
						t.Fatalf("buf %d size %d %s frame %d: %#x %d bytes owned=%v %v",
							bufSize, size, wrap.name, i, flags, len(got), owned, err)
					}
				}
				if _, _, _, err := r.ReadFrame(); err != io.EOF {
					t.Fatalf("buf %d size %d %s: end %v", bufSize, size, wrap.name, err)
				}
			}
		}
	}
}

func TestReaderPendingAndBuffered(t *testing.T) {
	f1 := AppendFrame(nil, FlagMore, []byte("one"))
	f2 := AppendFrame(nil, 0, pattern(40))
	all := append(append([]byte(nil), f1...), f2...)

	// Pending bigger than the requested buffer.
	r := NewReader(bytes.NewReader(nil), 4, all[:len(f1)+5])
	flags, body, owned, err := r.ReadFrame()
	if err != nil || flags != FlagMore || string(body) != "one" || owned {
		t.Fatalf("ReadFrame = %#x %q %v %v", flags, body, owned, err)
	}
	if got := r.Buffered(); !bytes.Equal(got, f2[:5]) {
		t.Fatalf("Buffered = %x, want %x", got, f2[:5])
	}
	if _, _, _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated second frame: %v", err)
	}

	// Pending plus the rest from the stream.
	for cut := 0; cut <= len(all); cut++ {
		r := NewReader(iotest.OneByteReader(bytes.NewReader(all[cut:])), 16, all[:cut])
		for i, want := range [][]byte{[]byte("one"), pattern(40)} {
			_, body, _, err := r.ReadFrame()
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("cut %d frame %d: %x %v", cut, i, body, err)
			}
		}
		if _, _, _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(r.Buffered()) != 0 {
			t.Fatalf("cut %d: Buffered %x", cut, r.Buffered())
		}
	}

	// A pending buffer is copied, not aliased.
	p := append([]byte(nil), f1...)
	r = NewReader(bytes.NewReader(nil), 0, p)
	p[2] = 'X'
	if _, body, _, _ := r.ReadFrame(); string(body) != "one" {
		t.Fatalf("pending aliased: %q", body)
	}
}

// Errors from the underlying reader other than EOF come through unchanged.
func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	f := AppendFrame(nil, 0, []byte("hello"))
	for cut := 0; cut < len(f); cut++ {
		r := NewReader(io.MultiReader(bytes.NewReader(f[:cut]), iotest.ErrReader(boom)), 0, nil)
		if _, _, _, err := r.ReadFrame(); err != boom {
			t.Fatalf("cut %d: %v, want boom", cut, err)
		}
	}
	big := longFrame(0, pattern(200))
	r := NewReader(io.MultiReader(bytes.NewReader(big[:100]), iotest.ErrReader(boom)), 16, nil)
	if _, _, _, err := r.ReadFrame(); err != boom {
		t.Fatalf("large frame: %v, want boom", err)
	}
	r = NewReader(iotest.TimeoutReader(bytes.NewReader(f)), 0, nil)
	if _, body, _, err := r.ReadFrame(); err != nil || string(body) != "hello" {
		t.Fatalf("TimeoutReader first read: %q %v", body, err)
	}
	if _, _, _, err := r.ReadFrame(); err != iotest.ErrTimeout {
		t.Fatalf("TimeoutReader second read: %v", err)
	}
}

// A reader that keeps returning (0, nil) must not make the Reader spin.
func TestReaderNoProgress(t *testing.T) {
	r := NewReader(zeroReader{}, 0, nil)
	if _, _, _, err := r.ReadFrame(); err != io.ErrNoProgress {
		t.Fatalf("ReadFrame = %v, want io.ErrNoProgress", err)
	}
	hdr := longFrame(0, nil)
	binary.BigEndian.PutUint64(hdr[1:], 1<<20)
	r = NewReader(io.MultiReader(bytes.NewReader(hdr), zeroReader{}), 64, nil)
	done := make(chan error, 1)
	go func() { _, _, _, err := r.ReadFrame(); done <- err }()
	select {
	case err := <-done:
		if err != io.ErrNoProgress {
			t.Fatalf("large ReadFrame = %v, want io.ErrNoProgress", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readLarge spins on (0, nil) reads")
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestCommandMore(t *testing.T) {
	for _, f := range [][]byte{
		{FlagCommand | FlagMore, 0},
		{FlagCommand | FlagMore, 5, 4, 'P', 'I', 'N', 'G'},
		longFrame(FlagCommand|FlagMore, []byte{4, 'P', 'O', 'N', 'G'}),
		{0xff, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, _, _, err := ParseFrameHeader(f, 0); err != ErrCommandMore {
			t.Errorf("ParseFrameHeader(%x) = %v", f, err)
		}
		if _, _, _, err := ParseFrame(f, 0); err != ErrCommandMore {
			t.Errorf("ParseFrame(%x) = %v", f, err)
		}
		for _, mode := range readerModes {
			if _, _, _, err := mode.new(f).ReadFrame(); err != ErrCommandMore {
				t.Errorf("%s ReadFrame(%x) = %v", mode.name, f, err)
			}
		}
	}
}

func TestFrameMax(t *testing.T) {
	hdr := func(size uint64) []byte {
		b := []byte{FlagLong}
		return binary.BigEndian.AppendUint64(b, size)
	}
	for _, tc := range []struct {
		b    []byte
		max  int64
		err  error
		size int64
	}{
		{[]byte{0, 10}, 10, nil, 10},
		{[]byte{0, 10}, 9, ErrFrameTooLarge, 0},
		{[]byte{0, 255}, 0, nil, 255},
		{[]byte{0, 255}, -1, nil, 255}, // max <= 0 is unlimited
		{hdr(1 << 62), 1 << 20, ErrFrameTooLarge, 0},
		{hdr(1 << 62), 0, nil, 1 << 62},
		{hdr(math.MaxInt64), 0, nil, math.MaxInt64},
		{hdr(math.MaxInt64 + 1), 0, ErrFrameTooLarge, 0}, // does not fit int64
		{hdr(math.MaxUint64), 0, ErrFrameTooLarge, 0},
		{hdr(1 << 20), 1 << 20, nil, 1 << 20},
		{hdr(1<<20 + 1), 1 << 20, ErrFrameTooLarge, 0},
	} {
		_, size, _, err := ParseFrameHeader(tc.b, tc.max)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) || size != tc.size {
			t.Errorf("ParseFrameHeader(%x, %d) = %d, %v; want %d, %v", tc.b, tc.max, size, err, tc.size, tc.err)
		}
		_, _, _, err = ParseFrame(tc.b, tc.max)
		wantFrame := tc.err
		if wantFrame == nil && tc.size > 0 {
			wantFrame = io.ErrUnexpectedEOF
		}
		if !errors.Is(err, wantFrame) {
			t.Errorf("ParseFrame(%x, %d) = %v; want %v", tc.b, tc.max, err, wantFrame)
		}
	}

	// The Reader checks Max on the header, before any body arrives or is
	// allocated.
	r := NewReader(bytes.NewReader(hdr(1<<62)), 64, nil)
	r.Max = 1 << 20
	var err error
	alloc := allocBytes(func() { _, _, _, err = r.ReadFrame() })
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("Reader with Max: %v", err)
	}
	if alloc > 4<<10 {
		t.Errorf("Reader allocated %d bytes rejecting an oversized frame", alloc)
	}
	r = NewReader(bytes.NewReader(append(AppendFrame(nil, 0, pattern(10)), AppendFrame(nil, 0, pattern(11))...)), 0, nil)
	r.Max = 10
	if _, b, _, err := r.ReadFrame(); err != nil || len(b) != 10 {
		t.Fatalf("frame at Max: %d %v", len(b), err)
	}
	if _, _, _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame above Max: %v", err)
	}
}

// allocBytes reports how many bytes f allocates.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A header that announces 2^62 bytes with no Max must cost only what the peer
// really sends.
func TestReaderLyingHeader(t *testing.T) {
	hdr := longFrame(0, nil)
	binary.BigEndian.PutUint64(hdr[1:], 1<<62)
	for _, sent := range []int{0, 1000, 3 << 20} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.HalfReader,
		} {
			stream := append(append([]byte(nil), hdr...), pattern(sent)...)
			r := NewReader(wrap(bytes.NewReader(stream)), 0, nil)
			var err error
			start := time.Now()
			alloc := allocBytes(func() { _, _, _, err = r.ReadFrame() })
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("sent %d: %v, want io.ErrUnexpectedEOF", sent, err)
			}
			// Growth is by doubling from 1 MiB: at most a few times what
			// arrived, plus the first MiB.
			if limit := uint64(4*sent + 2<<20); alloc > limit {
				t.Errorf("sent %d: allocated %d bytes (limit %d)", sent, alloc, limit)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("sent %d: took %v", sent, d)
			}
		}
	}
}

// A genuine frame larger than the buffer is read into its own slice without
// swallowing the next frame.
func TestReaderLargeFrame(t *testing.T) {
	big := pattern(3<<20 + 7)
	stream := AppendFrame(nil, FlagMore, big)
	stream = AppendFrame(stream, 0, []byte("tail"))
	for _, wrap := range []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.HalfReader,
		iotest.DataErrReader,
	} {
		r := NewReader(wrap(bytes.NewReader(stream)), 0, nil)
		flags, body, owned, err := r.ReadFrame()
		if err != nil || flags != FlagMore|FlagLong || !owned || !bytes.Equal(body, big) {
			t.Fatalf("big frame: %#x owned=%v len=%d %v", flags, owned, len(body), err)
		}
		flags, body, owned, err = r.ReadFrame()
		if err != nil || flags != 0 || owned || string(body) != "tail" {
			t.Fatalf("tail frame: %#x owned=%v %q %v", flags, owned, body, err)
		}
		if _, _, _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
}

// repeatReader serves the same bytes forever without allocating.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off += n
	if r.off == len(r.b) {
		r.off = 0
	}
	return n, nil
}

func BenchmarkReaderSmallFrames(b *testing.B) {
	var stream []byte
	body := pattern(16)
	for len(stream) < 1<<20 {
		stream = AppendFrame(stream, 0, body)
	}
	r := NewReader(&repeatReader{b: stream}, 0, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, body, _, err := r.ReadFrame(); err != nil || len(body) != 16 {
			b.Fatal(len(body), err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			body := pattern(size)
			dst := make([]byte, 0, 2*size+MaxHeaderSize)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendFrame(dst[:0], FlagMore, body)
			}
		})
	}
}

func BenchmarkParseFrame(b *testing.B) {
	f := AppendFrame(nil, 0, pattern(16))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := ParseFrame(f, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// Decoding small frames from the buffer allocates nothing.
func TestReaderZeroAllocs(t *testing.T) {
	var stream []byte
	for len(stream) < 1<<16 {
		stream = AppendFrame(stream, FlagMore, pattern(16))
	}
	r := NewReader(&repeatReader{b: stream}, 0, nil)
	allocs := testing.AllocsPerRun(10000, func() {
		if _, b, _, err := r.ReadFrame(); err != nil || len(b) != 16 {
			t.Fatal(len(b), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per frame", allocs)
	}
	dst := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(1000, func() { dst = AppendFrame(dst[:0], 0, stream[2:18]) }); a != 0 {
		t.Errorf("AppendFrame: %v allocs", a)
	}
}

// deadlineReader returns at most step bytes a call and, before every other
// chunk, a timeout-like error with nothing read.
type deadlineReader struct {
	r    io.Reader
	step int
	flip bool
}

var errStutter = errors.New("stutter: deadline")

func (s *deadlineReader) Read(p []byte) (int, error) {
	if s.flip = !s.flip; s.flip {
		return 0, errStutter
	}
	return s.r.Read(p[:min(len(p), s.step)])
}

// TestReaderResumes: after a read error ReadFrame goes on where it stopped,
// inside small and large frames alike, so a reader can be interrupted by a
// deadline and resumed without losing a byte.
func TestReaderResumes(t *testing.T) {
	bodies := [][]byte{[]byte("a"), bytes.Repeat([]byte("L"), 100<<10), {}, []byte("small again"), bytes.Repeat([]byte("M"), 300<<10)}
	var stream []byte
	for i, b := range bodies {
		stream = AppendFrameHeader(stream, byte(i)&FlagMore, len(b))
		stream = append(stream, b...)
	}
	for _, step := range []int{1, 7, 4096, 70000} {
		fr := NewReader(&deadlineReader{r: bytes.NewReader(stream), step: step}, 64<<10, nil)
		for i, want := range bodies {
			var (
				flags byte
				body  []byte
				err   error
			)
			for {
				flags, body, _, err = fr.ReadFrame()
				if !errors.Is(err, errStutter) {
					break
				}
			}
			if err != nil {
				t.Fatalf("step %d frame %d: %v", step, i, err)
			}
			if flags&FlagMore != byte(i)&FlagMore || !bytes.Equal(body, want) {
				t.Fatalf("step %d frame %d: flags %d, %d bytes, want %d", step, i, flags, len(body), len(want))
			}
		}
	}
}

// A skipped body is read through the read buffer and dropped; the frames
// around it are intact, whatever the read sizes, and a read error in the
// middle of the skip resumes where it stopped.
func TestReaderSkip(t *testing.T) {
	big := bytes.Repeat([]byte{0xab}, 200<<10)
	var stream []byte
	stream = AppendFrame(stream, FlagMore, []byte("head"))
	stream = AppendFrame(stream, FlagMore, big)
	stream = AppendFrame(stream, 0, []byte("tail"))
	for name, r := range map[string]io.Reader{
		"whole":   bytes.NewReader(stream),
		"onebyte": iotest.OneByteReader(bytes.NewReader(stream)),
		"timeout": &flakyReader{r: bytes.NewReader(stream), every: 7},
	} {
		fr := NewReader(r, 4096, nil)
		var asked int64
		fr.Skip = func(flags byte, size int64) bool { asked = size; return true }
		fr.Alloc = func(n int) []byte { t.Fatalf("%s: Alloc(%d) while skipping", name, n); return nil }
		var got []string
		for len(got) < 3 {
			flags, body, owned, err := fr.ReadFrame()
			if err == iotest.ErrTimeout {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if owned {
				t.Fatalf("%s: owned body", name)
			}
			got = append(got, fmt.Sprintf("%d:%q", flags&FlagMore, body))
		}
		if want := []string{`1:"head"`, `1:""`, `0:"tail"`}; fmt.Sprint(got) != fmt.Sprint(want) || asked != int64(len(big)) {
			t.Fatalf("%s: got %v (asked %d), want %v", name, got, asked, want)
		}
	}
}

// flakyReader fails every n-th read with a timeout, as a read deadline would.
type flakyReader struct {
	r     io.Reader
	every int
	n     int
}

func (f *flakyReader) Read(p []byte) (int, error) {
	f.n++
	if f.n%f.every == 0 {
		return 0, iotest.ErrTimeout
	}
	if len(p) > 1000 {
		p = p[:1000]
	}
	return f.r.Read(p)
}

// A body over the first chunk is read into growing chunks and joined
// intact, through read errors that resume; the frame after it is intact.
func TestReaderLargeChunks(t *testing.T) {
	big := make([]byte, 5<<20+123)
	for i := range big {
		big[i] = byte(i * 7)
	}
	var stream []byte
	stream = AppendFrame(stream, FlagMore, big)
	stream = AppendFrame(stream, 0, []byte("tail"))
	for name, r := range map[string]io.Reader{
		"whole":   bytes.NewReader(stream),
		"timeout": &flakyReader{r: bytes.NewReader(stream), every: 5},
	} {
		fr := NewReader(r, 0, nil)
		var got [][]byte
		for len(got) < 2 {
			_, body, _, err := fr.ReadFrame()
			if err == iotest.ErrTimeout {
				if fr.LargePending() == 0 && len(got) == 0 {
					t.Fatalf("%s: nothing pending after a timeout", name)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, bytes.Clone(body))
		}
		if !bytes.Equal(got[0], big) || string(got[1]) != "tail" || fr.LargePending() != 0 {
			t.Fatalf("%s: body of %d bytes corrupted or tail %q", name, len(got[0]), got[1])
		}
	}
	// A stream that ends inside the body reports what was dropped.
	fr := NewReader(bytes.NewReader(stream[:3<<20]), 0, nil)
	if _, _, _, err := fr.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatal(err)
	}
	if n := fr.LargePending(); n < 2<<20 {
		t.Fatalf("LargePending %d after a cut body", n)
	}
}

// The buffer starts small and grows: frames up to the full buffer still
// come from it (not owned), whatever the read sizes; larger ones are owned.
func TestReaderGrows(t *testing.T) {
	sizes := []int{0, 1, 300, 4096, 5000, 30000, DefaultReadBuffer - MaxHeaderSize, DefaultReadBuffer, 100000, 7}
	var stream []byte
	for i, n := range sizes {
		stream = AppendFrame(stream, 0, bytes.Repeat([]byte{byte(i)}, n))
	}
	for name, r := range map[string]io.Reader{
		"whole":   bytes.NewReader(stream),
		"onebyte": iotest.OneByteReader(bytes.NewReader(stream)),
		"halves":  iotest.HalfReader(bytes.NewReader(stream)),
	} {
		fr := NewReader(r, 0, nil)
		if len(fr.buf) != initialReadBuffer {
			t.Fatalf("initial buffer %d", len(fr.buf))
		}
		for i, n := range sizes {
			_, body, owned, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("%s: frame %d: %v", name, i, err)
			}
			if !bytes.Equal(body, bytes.Repeat([]byte{byte(i)}, n)) || owned != (n > DefaultReadBuffer-MaxHeaderSize) {
				t.Fatalf("%s: frame %d of %d bytes: got %d bytes, owned %v", name, i, n, len(body), owned)
			}
		}
		if len(fr.buf) > DefaultReadBuffer {
			t.Fatalf("%s: buffer grew to %d", name, len(fr.buf))
		}
	}
}

// MessageBuffered is true exactly when a whole message (after any commands)
// is in the buffer, for every cut of a stream of a command, a two-frame
// message and a one-frame message.
func TestMessageBuffered(t *testing.T) {
	cmd := AppendCommandFrame(nil, "PING", []byte{0, 1})
	m1 := append(AppendFrame(nil, FlagMore, []byte("a")), AppendFrame(nil, 0, pattern(300))...)
	m2 := AppendFrame(nil, 0, []byte("b"))
	all := append(append(append([]byte(nil), cmd...), m1...), m2...)
	for cut := 0; cut <= len(all); cut++ {
		r := NewReader(bytes.NewReader(nil), 0, all[:cut])
		if got, want := r.MessageBuffered(), cut >= len(cmd)+len(m1); got != want {
			t.Errorf("cut %d of %d: MessageBuffered = %v, want %v", cut, len(all), got, want)
		}
	}
	// After the first message, the second alone.
	r := NewReader(bytes.NewReader(nil), 0, all)
	for range 3 {
		if _, _, _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if !r.MessageBuffered() {
		t.Error("second message buffered: false")
	}
	if _, _, _, err := r.ReadFrame(); err != nil || r.MessageBuffered() {
		t.Errorf("empty buffer: MessageBuffered true (%v)", err)
	}
	// A frame over Max is not buffered, whatever is in the buffer.
	r = NewReader(bytes.NewReader(nil), 0, m2)
	r.Max = 0
	if !r.MessageBuffered() {
		t.Error("Max 0: not buffered")
	}
	r = NewReader(bytes.NewReader(nil), 0, AppendFrame(nil, 0, pattern(10)))
	r.Max = 5
	if r.MessageBuffered() {
		t.Error("frame over Max: buffered")
	}
}
