// Package docsnippets compiles the Go snippets of the documentation: every
// ```go block of README.md, and every code block with a ":=" in a package
// comment of the module, pasted into a main function (or taken whole, if
// it is a file of its own) with the imports it names. A snippet that does
// not compile where a reader would paste it (an unused err, a placeholder
// "...") fails the test.
package docsnippets

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type snippet struct {
	where string // file:line, for messages
	code  string
}

// moduleRoot is the directory of the go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// readmeSnippets returns the ```go blocks of a Markdown file.
func readmeSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []snippet
	var cur *strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur, start = &strings.Builder{}, n+1
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, snippet{where: fmt.Sprintf("%s:%d", filepath.Base(path), start), code: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// docSnippets returns the Go code blocks of the package comments under
// root: blocks with a short variable declaration (tables, wire formats and
// Python have none).
func docSnippets(t *testing.T, root string) []snippet {
	t.Helper()
	var out []snippet
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module (bench/)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil || f.Doc == nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var p comment.Parser
		for _, b := range p.Parse(f.Doc.Text()).Content {
			if c, ok := b.(*comment.Code); ok && strings.Contains(c.Text, ":=") {
				out = append(out, snippet{where: rel + " (package comment)", code: c.Text})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// imports are the packages a snippet may use by their usual names.
var imports = map[string]string{
	"zmq":      "github.com/zmqgo/zmq",
	"reactor":  "github.com/zmqgo/zmq/reactor",
	"broker":   "github.com/zmqgo/zmq/broker",
	"channels": "github.com/zmqgo/zmq/channels",
	"rpc":      "github.com/zmqgo/zmq/rpc",
	"z85":      "github.com/zmqgo/zmq/z85",
	"context":  "context",
	"errors":   "errors",
	"fmt":      "fmt",
	"log":      "log",
	"os":       "os",
	"slog":     "log/slog",
	"strings":  "strings",
	"time":     "time",
}

var qualified = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Z]`)

// program makes a snippet a main package: a file as it is, top-level
// declarations with package and imports added, statements inside main.
func program(code string) string {
	if strings.HasPrefix(strings.TrimSpace(code), "package ") {
		return code
	}
	used := map[string]bool{}
	for _, m := range qualified.FindAllStringSubmatch(code, -1) {
		if _, ok := imports[m[1]]; ok {
			used[m[1]] = true
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t%q\n", imports[n])
	}
	b.WriteString(")\n\n")
	if regexp.MustCompile(`(?m)^func `).MatchString(code) {
		b.WriteString(code)
	} else {
		b.WriteString("func main() {\n" + code + "}\n")
	}
	return b.String()
}

func TestSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command; skipped in -short mode")
	}
	root := moduleRoot(t)
	snips := append(readmeSnippets(t, filepath.Join(root, "README.md")), docSnippets(t, root)...)
	// The snippets every reader meets first must be there to be checked.
	for _, want := range []string{"README.md", "doc.go (package comment)", filepath.Join("reactor", "doc.go") + " (package comment)", filepath.Join("broker", "doc.go") + " (package comment)"} {
		found := false
		for _, s := range snips {
			found = found || strings.HasPrefix(s.where, want)
		}
		if !found {
			t.Errorf("no Go snippet found in %s", want)
		}
	}
	// Each snippet becomes a package in a directory that exists only in
	// an overlay: nothing is written into the source tree.
	tmp := t.TempDir()
	overlay := map[string]map[string]string{"Replace": {}}
	where := map[string]string{}
	var pkgs []string
	for i, s := range snips {
		src := filepath.Join(tmp, fmt.Sprintf("s%d.go", i))
		if err := os.WriteFile(src, []byte(program(s.code)), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := fmt.Sprintf("examples/docsnippets/_snippet/s%d", i)
		overlay["Replace"][filepath.Join(root, dir, "main.go")] = src
		where[dir] = s.where
		pkgs = append(pkgs, "./"+dir)
	}
	ov, _ := json.Marshal(overlay)
	ovPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"build", "-overlay", ovPath}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		for dir, w := range where {
			msg = strings.ReplaceAll(msg, "# github.com/zmqgo/zmq/"+dir+"\n", "# snippet at "+w+" ("+dir+")\n")
		}
		t.Errorf("documentation snippets do not compile:\n%s", msg)
	}
	t.Logf("%d snippets checked", len(snips))
}
