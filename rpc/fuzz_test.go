package rpc

import (
	"bytes"
	"context"
	"testing"
)

// splitFrames turns fuzz input into a multipart message: a frame count,
// then for each frame a one-byte length and the bytes (the last frame takes
// the rest).
func splitFrames(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	n := int(data[0]%8) + 1
	data = data[1:]
	frames := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		if i == n-1 || len(data) == 0 {
			frames = append(frames, data)
			break
		}
		l := min(int(data[0]), len(data)-1)
		frames = append(frames, data[1:1+l])
		data = data[1+l:]
	}
	return frames
}

func joinFrames(frames [][]byte) []byte {
	out := []byte{byte(len(frames) - 1)}
	for i, f := range frames {
		if i < len(frames)-1 {
			if len(f) > 255 {
				f = f[:255]
			}
			out = append(out, byte(len(f)))
		}
		out = append(out, f...)
	}
	return out
}

func addSeeds(f *testing.F) {
	for _, v := range loadVectors(f) {
		if !v.noReply && len(v.frames) > 0 {
			f.Add(joinFrames(v.frames))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{4, 4, 'd', 'e', 'm', 'o', 0, 2, '{', '}', 4, 'n', 'u', 'l', 'l'})
}

// FuzzParse runs every decoder over whole multipart messages: nothing may
// panic, and a header that decodes must re-encode to one that decodes to
// the same header.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := splitFrames(data)
		if r, err := ParseRequest(frames); err == nil {
			ParseExecContext(r.Header.ServerExecutionContext)
			enc := r.Header.AppendJSON(nil)
			r2, err := ParseRequest([][]byte{frames[0], nil, enc, frames[3], frames[4]})
			if err != nil {
				t.Fatalf("re-encoded header %s does not decode: %v", enc, err)
			}
			if enc2 := r2.Header.AppendJSON(nil); !bytes.Equal(enc, enc2) {
				t.Fatalf("header round trip:\n%s\n%s", enc, enc2)
			}
			var x any
			if JSON.Unmarshal(r.Payload, &x) == nil {
				parseArgs(x, r.Preencoded)
			}
		}
		if r, err := ParseResponse(frames); err == nil {
			if r.err() == nil {
				var x any
				r.Decode(&x)
			}
		}
		if e, err := ParseEvent(frames); err == nil {
			var x any
			e.Decode(&x)
		}
		if len(frames) > 3 {
			ParseException(frames[3], ContentJSON)
			ParseException(frames[3], ContentMsgpack)
		}
	})
}

// FuzzServerHandle feeds whole messages to a serving server's dispatcher:
// it must answer or drop each without panicking, and keep serving.
func FuzzServerHandle(f *testing.F) {
	addSeeds(f)
	s, err := NewServer("demo", WithQueueLen(8))
	if err != nil {
		f.Fatal(err)
	}
	if err := s.AddThing(NewDemoThing("demo")); err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	f.Cleanup(func() { cancel(); <-done })
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := splitFrames(data)
		if len(frames) == 0 {
			return
		}
		// Keep actions short: the fuzzer finds sleep_for quickly.
		for i := range frames {
			frames[i] = bytes.ReplaceAll(frames[i], []byte("sleep_for"), []byte("ping"))
		}
		s.handle(frames)
	})
}
