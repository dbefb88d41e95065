package rpc

import (
	"context"
	"time"
)

// NewDemoThing returns the Thing that "zmqgo rpc demo" serves, the one
// hololinked's captured frames (testdata/hololinked-frames.txt) were taken
// from: property count (number, default 1, writable); actions
// sleep_for(seconds=0.1) returning {"slept": seconds}, fail() raising
// ValueError "deliberate failure from Demo.fail", and emit(value=0)
// publishing event tick {"value": value} and returning value.
func NewDemoThing(id string) *Thing {
	t := NewThing(id)
	t.Title = "Demo"
	t.Description = "zmqgo's demo Thing"
	must(t.AddProperty(Property{Name: "count", Type: "number", Default: 1, Description: "a plain number property"}))
	must(t.AddAction(Action{
		Name: "sleep_for", Description: "sleep for the given seconds, then return them",
		Params: []string{"seconds"},
		Input: map[string]any{"type": "object", "properties": map[string]any{
			"seconds": map[string]any{"type": "number", "default": 0.1}}},
		Func: func(ctx context.Context, a Args) (any, error) {
			s, err := a.Float("seconds", 0.1)
			if err != nil {
				return nil, err
			}
			t := time.NewTimer(time.Duration(s * float64(time.Second)))
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done(): // execution timeout: give the queue back
				return nil, ctx.Err()
			}
			return map[string]any{"slept": s}, nil
		},
	}))
	must(t.AddAction(Action{
		Name: "fail", Description: "raise ValueError",
		Func: func(context.Context, Args) (any, error) {
			return nil, Errorf("ValueError", "deliberate failure from Demo.fail")
		},
	}))
	must(t.AddAction(Action{
		Name: "emit", Description: "publish event tick with the value and return it",
		Params: []string{"value"},
		Func: func(_ context.Context, a Args) (any, error) {
			v, ok := a.Get("value")
			if !ok {
				v = 0
			}
			if err := t.Emit("tick", map[string]any{"value": v}); err != nil {
				return nil, err
			}
			return v, nil
		},
	}))
	must(t.AddEvent(Event{Name: "tick", Description: "emitted by emit(value)"}))
	return t
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
