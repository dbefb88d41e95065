package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
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
