package zmtp

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Frame flag bits (RFC 23 §framing). Bits 3-7 are reserved; like libzmq we ignore them.
const (
	FlagMore    = 0x01
	FlagLong    = 0x02
	FlagCommand = 0x04
)

// MaxShortSize is the largest body a short (1-byte size) frame header can describe.
const MaxShortSize = 255

// MaxHeaderSize is the largest frame header: flags + 8-byte size.
const MaxHeaderSize = 9

var (
	// ErrFrameTooLarge means a frame header announced a size above the configured maximum.
	ErrFrameTooLarge = protocolErr("zmtp: frame exceeds maximum size")
	// ErrCommandMore means a command frame carried the MORE flag, which RFC 23 forbids.
	ErrCommandMore = protocolErr("zmtp: command frame with MORE flag")
)

// AppendFrameHeader appends the header of a frame of the given size. The long
// form is used only above 255 bytes, as libzmq does.
func AppendFrameHeader(dst []byte, flags byte, size int) []byte {
	if size > MaxShortSize {
		var b [9]byte
		b[0] = flags | FlagLong
		binary.BigEndian.PutUint64(b[1:], uint64(size))
		return append(dst, b[:]...)
	}
	return append(dst, flags&^FlagLong, byte(size))
}

// AppendFrame appends a whole frame.
func AppendFrame(dst []byte, flags byte, body []byte) []byte {
	dst = AppendFrameHeader(dst, flags, len(body))
	return append(dst, body...)
}

// ParseFrameHeader decodes a frame header at the start of b. It returns the
// flags, the body size and the header length. If b holds less than a whole
// header it returns io.ErrUnexpectedEOF (io.EOF if b is empty). max > 0 bounds
// the body size.
func ParseFrameHeader(b []byte, max int64) (flags byte, size int64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, io.EOF
	}
	flags = b[0]
	if flags&FlagLong != 0 {
		if len(b) < 9 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		u := binary.BigEndian.Uint64(b[1:9])
		if u > math.MaxInt64 {
			return 0, 0, 0, fmt.Errorf("%w: announced %d bytes", ErrFrameTooLarge, u)
		}
		size, n = int64(u), 9
	} else {
		if len(b) < 2 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		size, n = int64(b[1]), 2
	}
	if flags&FlagCommand != 0 && flags&FlagMore != 0 {
		return 0, 0, 0, ErrCommandMore
	}
	if max > 0 && size > max {
		return 0, 0, 0, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, size, max)
	}
	return flags, size, n, nil
}

// ParseFrame decodes one whole frame at the start of b. body aliases b. n is
// the number of bytes consumed. An incomplete frame gives io.ErrUnexpectedEOF
// (io.EOF if b is empty).
func ParseFrame(b []byte, max int64) (flags byte, body []byte, n int, err error) {
	flags, size, hn, err := ParseFrameHeader(b, max)
	if err != nil {
		return 0, nil, 0, err
	}
	if int64(len(b)-hn) < size {
		return 0, nil, 0, io.ErrUnexpectedEOF
	}
	end := hn + int(size)
	return flags, b[hn:end:end], end, nil
}

// Reader decodes frames from a stream. It reads into one large buffer and
// decodes as many frames as each read delivers, so small messages cost far
// less than one system call each.
type Reader struct {
	r     io.Reader
	buf   []byte
	start int
	end   int
	// Max bounds a single frame's body; 0 means unlimited.
	Max int64
	// Alloc, if set, supplies the buffer for a body bigger than the read
	// buffer and at most 1 MiB (cap >= n), so the caller can recycle them.
	Alloc func(n int) []byte
	// Skip, if set, is asked about each body bigger than the read buffer
	// before it is read. If it returns true the body is read through the
	// read buffer and thrown away, and ReadFrame returns the frame with a
	// nil body: memory stays bounded by the read buffer whatever the size.
	Skip func(flags byte, size int64) bool

	// A large body being read: a read error (such as a deadline) leaves it
	// here, and the next ReadFrame goes on with it.
	max int // the buffer's largest size

	large      []byte   // the chunk being filled
	chunks     [][]byte // the full chunks before it
	largeGot   int64    // bytes of the body read so far
	largeLost  int64    // bytes of a body the stream ended in
	largeSize  int64
	largeFlags byte
	skipLeft   int64 // bytes of a skipped body still to read
}

// DefaultReadBuffer is the Reader's buffer size.
const DefaultReadBuffer = 64 << 10

// initialReadBuffer is where a Reader's buffer starts: a connection that
// carries little (most of a server's many clients) never needs more, and
// one that streams grows to the full size in a few reads.
const initialReadBuffer = 4 << 10

// NewReader returns a Reader whose buffer grows up to size bytes
// (DefaultReadBuffer if size <= 0, at least MaxHeaderSize): it starts at
// 4 KiB and doubles when a read fills it or a frame needs more room. Bytes
// already read from r (for example the tail of the handshake) can be passed
// as pending.
func NewReader(r io.Reader, size int, pending []byte) *Reader {
	if size <= 0 {
		size = DefaultReadBuffer
	}
	if size < MaxHeaderSize {
		// A long header must fit, or fill would read into an empty slice.
		size = MaxHeaderSize
	}
	if size < len(pending) {
		size = len(pending)
	}
	fr := &Reader{r: r, buf: make([]byte, max(min(size, initialReadBuffer), len(pending))), max: size}
	fr.end = copy(fr.buf, pending)
	return fr
}

// grow makes the buffer at least n bytes (at most max), keeping what it holds.
func (fr *Reader) grow(n int) {
	c := len(fr.buf)
	for c < n {
		c *= 2
	}
	c = min(c, fr.max)
	nb := make([]byte, c)
	fr.end = copy(nb, fr.buf[fr.start:fr.end])
	fr.buf, fr.start = nb, 0
}

// Buffered returns the bytes read from the stream and not yet decoded.
func (fr *Reader) Buffered() []byte { return fr.buf[fr.start:fr.end] }

// MessageBuffered reports whether the buffer holds a whole message (after
// any commands, its frames up to one without MORE), so that reading it will
// not wait for the stream: a receiver may then read on before it hands
// what it read over. A frame ReadFrame would refuse, or read outside the
// buffer, does not count as buffered.
func (fr *Reader) MessageBuffered() bool {
	if fr.large != nil || fr.skipLeft > 0 {
		return false
	}
	b := fr.buf[fr.start:fr.end]
	for {
		flags, size, hn, err := ParseFrameHeader(b, fr.Max)
		if err != nil || int64(len(b)-hn) < size {
			return false
		}
		b = b[hn+int(size):]
		if flags&(FlagMore|FlagCommand) == 0 {
			return true
		}
	}
}

// maxEmptyReads is how many (0, nil) reads in a row we tolerate before
// giving up with io.ErrNoProgress (as bufio does).
const maxEmptyReads = 100

// fill reads more bytes into the buffer, compacting it first. The caller
// guarantees the buffer has room after compaction.
func (fr *Reader) fill() error {
	if fr.start > 0 {
		copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.end -= fr.start
		fr.start = 0
	}
	for range maxEmptyReads {
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		if n > 0 {
			if fr.end == len(fr.buf) && len(fr.buf) < fr.max {
				fr.grow(2 * len(fr.buf)) // a full read: more is coming
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// ReadFrame returns the next frame. Unless owned is true, body aliases the
// Reader's buffer and is valid only until the next call; an owned body was
// allocated for this frame and may be kept. A stream that ends between frames
// gives io.EOF; one that ends inside a frame gives io.ErrUnexpectedEOF.
// After any other read error (a deadline, say) ReadFrame may be called again
// and goes on where it stopped: nothing read is lost.
func (fr *Reader) ReadFrame() (flags byte, body []byte, owned bool, err error) {
	if fr.large != nil {
		body, err = fr.continueLarge()
		return fr.largeFlags, body, true, err
	}
	if fr.skipLeft > 0 {
		return fr.largeFlags, nil, false, fr.continueSkip()
	}
	for {
		b := fr.buf[fr.start:fr.end]
		var size int64
		var hn int
		flags, size, hn, err = ParseFrameHeader(b, fr.Max)
		if err == nil {
			if int64(len(b)-hn) >= size {
				end := hn + int(size)
				fr.start += end
				return flags, b[hn:end:end], false, nil
			}
			if room := int64(len(fr.buf) - hn); size > room && size <= int64(fr.max-hn) {
				fr.grow(hn + int(size)) // fits the full-size buffer: make room
			} else if size > room {
				// Header and body do not fit in the buffer together.
				fr.start += hn
				if fr.Skip != nil && fr.Skip(flags, size) {
					fr.skipLeft, fr.largeFlags = size, flags
					return flags, nil, false, fr.continueSkip()
				}
				body, err = fr.readLarge(flags, size)
				return flags, body, true, err
			}
		} else if err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, nil, false, err
		}
		if rerr := fr.fill(); rerr != nil {
			if rerr == io.EOF && fr.end > fr.start {
				rerr = io.ErrUnexpectedEOF
			}
			return 0, nil, false, rerr
		}
	}
}

// readLarge reads a body bigger than the buffer into its own memory. A
// body over largeStep is read into chunks that grow with what has arrived
// (an eighth of it, at least largeStep), so a header that lies about its
// size costs only what the peer really sends, plus an eighth; the chunks are
// joined into one slice once the body is complete. (Growing one slice by
// doubling cost up to twice what arrived, more with the copy.)
func (fr *Reader) readLarge(flags byte, size int64) ([]byte, error) {
	c := min(size, largeStep)
	var body []byte
	if fr.Alloc != nil && size <= largeStep {
		body = fr.Alloc(int(size))[:0:size]
	} else {
		body = make([]byte, 0, c)
	}
	n := copy(body[:min(int64(fr.end-fr.start), c)], fr.buf[fr.start:fr.end])
	body = body[:n]
	// A body bigger than the read buffer cannot be in it whole: anything
	// left is the start of the body beyond this first chunk (c >= buffer).
	fr.start += n
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	}
	fr.large, fr.largeSize, fr.largeFlags, fr.largeGot = body, size, flags, int64(n)
	return fr.continueLarge()
}

// largeStep is the first chunk of a large body, and the smallest.
const largeStep = 1 << 20

// LargePending returns how many bytes of an unfinished large body the
// Reader holds, or dropped when the stream ended inside it: what the
// caller may want to give back to the operating system once the Reader is
// gone.
func (fr *Reader) LargePending() int64 {
	if fr.large == nil {
		return fr.largeLost
	}
	return fr.largeGot
}

// continueSkip reads and drops the rest of a skipped body. Bytes read past
// its end stay in the buffer: they begin the next frame.
func (fr *Reader) continueSkip() error {
	for fr.skipLeft > 0 {
		if avail := int64(fr.end - fr.start); avail > 0 {
			k := min(avail, fr.skipLeft)
			fr.start += int(k)
			fr.skipLeft -= k
			continue
		}
		fr.start, fr.end = 0, 0
		if err := fr.fill(); err != nil {
			if err == io.EOF {
				fr.skipLeft = 0
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// continueLarge reads the rest of the large body in progress.
func (fr *Reader) continueLarge() ([]byte, error) {
	size := fr.largeSize
	empty := 0
	for fr.largeGot < size {
		body := fr.large
		if len(body) == cap(body) {
			fr.chunks = append(fr.chunks, body)
			c := min(size-fr.largeGot, max(largeStep, fr.largeGot/8))
			body = make([]byte, 0, c)
			fr.large = body
		}
		var n int
		var err error
		if fr.end > fr.start { // read past the first chunk's end (readLarge)
			n = copy(body[len(body):cap(body)], fr.buf[fr.start:fr.end])
			if fr.start += n; fr.start == fr.end {
				fr.start, fr.end = 0, 0
			}
		} else {
			n, err = fr.r.Read(body[len(body):cap(body)])
		}
		fr.large = body[:len(body)+n]
		fr.largeGot += int64(n)
		if err != nil && fr.largeGot < size {
			if err == io.EOF {
				fr.largeLost = fr.largeGot
				fr.dropLarge()
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if n > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			fr.largeLost = fr.largeGot
			fr.dropLarge()
			return nil, io.ErrNoProgress
		}
	}
	body := fr.large
	if len(fr.chunks) > 0 {
		body = make([]byte, 0, size)
		for _, c := range fr.chunks {
			body = append(body, c...)
		}
		body = append(body, fr.large...)
	}
	fr.dropLarge()
	return body, nil
}

func (fr *Reader) dropLarge() {
	clear(fr.chunks)
	fr.large, fr.chunks, fr.largeGot = nil, fr.chunks[:0], 0
}
