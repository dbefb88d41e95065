package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The flag package accepts both -name and --name, and both "--name value"
// and "--name=value". Help output shows the --name form.

// newFlagSet returns a flag set that reports nothing itself: dispatch turns
// its errors into usage errors and prints help on -h.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// flagError rewrites the flag package's messages, which name flags as
// -name, to the --name form help uses: "unknown flag --frob".
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s", name)
	}
	for _, r := range []struct{ old, new string }{
		{"flag needs an argument: -", "flag needs an argument: --"},
		{" for flag -", " for flag --"},
		{" for -", " for --"},
	} {
		if strings.Contains(msg, r.old) {
			return errors.New(strings.Replace(msg, r.old, r.new, 1))
		}
	}
	return err
}

// listFlag is a repeatable string flag: each use appends a value.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ", ")
}

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// shortAliases maps a one-letter flag name to the long flag it abbreviates;
// help shows them together ("-d, --delimiter").
var shortAliases = map[string]string{"d": "delimiter"}

// writeFlagDefaults writes one entry per flag of fs, as
//
//	--name ARG
//	    	usage (default ...)
//
// with the argument name taken from back-quoted text in the usage string,
// as flag.PrintDefaults does.
func writeFlagDefaults(w io.Writer, fs *flag.FlagSet) {
	short := map[string]string{} // long name -> short alias
	for s, l := range shortAliases {
		if fs.Lookup(s) != nil && fs.Lookup(l) != nil {
			short[l] = s
		}
	}
	var all []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if l, ok := shortAliases[f.Name]; ok && fs.Lookup(l) != nil {
			return // shown with its long form
		}
		all = append(all, f)
	})
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	for _, f := range all {
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		if arg != "" {
			name += " " + arg
		}
		fmt.Fprintf(w, "  %s\n    \t%s", name, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "0s" {
			fmt.Fprintf(w, " (default %s)", quoteDefault(def))
		}
		fmt.Fprintln(w)
	}
}

// quoteDefault makes white-space defaults (the tab delimiter) visible.
func quoteDefault(s string) string {
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, "\t\n\r") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// optInt is an int flag that knows whether it was given, for flags whose
// default is not a number ("twice --rate") or depends on other flags: 0
// then means 0 (and is refused where it makes no sense) instead of
// "the default".
type optInt struct {
	n   int
	set bool
}

func (o *optInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.n)
}

func (o *optInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errors.New("not an integer")
	}
	o.n, o.set = int(n), true
	return nil
}

// durationHint rewrites the flag package's "invalid value "5" for flag
// -timeout: parse error" for a duration flag: a bare number lacks a unit.
func durationHint(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	if !ok {
		return err
	}
	value, rest, ok := strings.Cut(rest, " for flag -")
	name, _, ok2 := strings.Cut(rest, ": ")
	if !ok || !ok2 {
		return err
	}
	f := fs.Lookup(name)
	if f == nil {
		return err
	}
	if g, ok := f.Value.(flag.Getter); !ok {
		return err
	} else if _, ok := g.Get().(time.Duration); !ok {
		return err
	}
	v, _ := strconv.Unquote(value)
	if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
		return fmt.Errorf("invalid value %s for flag -%s: a duration needs a unit, such as %ss (units: ns, us, ms, s, m, h)", value, name, v)
	}
	return fmt.Errorf("invalid value %s for flag -%s: not a duration (such as 500ms, 5s, 1m30s)", value, name)
}
