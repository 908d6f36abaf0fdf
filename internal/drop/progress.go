package drop

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// progress shows how far a phase has come: on a terminal a bar redrawn in
// place with \r, elsewhere a plain line at every tenth. A progress with a
// nil writer shows nothing. It is safe for concurrent use.
type progress struct {
	w           io.Writer
	interactive bool

	mu    sync.Mutex
	label string
	total int
	done  int
	step  int // the last step drawn; -1 before any
}

const (
	barWidth   = 30
	plainSteps = 10  // a plain line at every tenth
	barSteps   = 100 // the bar is redrawn at every percent
)

func newProgress(w io.Writer, interactive bool) *progress {
	return &progress{w: w, interactive: interactive}
}

// start begins a phase of total units of work.
func (p *progress) start(label string, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total, p.done, p.step = label, total, 0, -1
	p.draw()
}

// add records n more units done.
func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.draw()
}

// end finishes the phase, ending the bar's line.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil || p.label == "" {
		return
	}
	if p.interactive {
		fmt.Fprintln(p.w)
	} else if p.step != plainSteps {
		fmt.Fprintf(p.w, "%s %d/%d\n", p.label, p.done, p.total)
	}
	p.label = ""
}

// draw shows the phase if it reached a new step. p.mu is held.
func (p *progress) draw() {
	if p.w == nil {
		return
	}
	steps := plainSteps
	if p.interactive {
		steps = barSteps
	}
	step := steps
	if p.total > 0 {
		step = min(p.done*steps/p.total, steps)
	}
	if step == p.step {
		return
	}
	p.step = step
	if !p.interactive {
		fmt.Fprintf(p.w, "%s %d/%d\n", p.label, p.done, p.total)
		return
	}
	filled := step * barWidth / barSteps
	fmt.Fprintf(p.w, "\r%-9s [%s%s] %d/%d %3d%%", p.label,
		strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), p.done, p.total, step)
}
