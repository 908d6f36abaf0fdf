package pass

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pass-keys.json")

	ks, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(%s) first = created %v, %v; want created, nil", path, created, err)
	}
	if runtime.GOOS != "windows" {
		if got := fileMode(t, path); got != 0o600 {
			t.Errorf("key file mode = %#o, want 0600", got)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after create, want only the key file", len(entries))
	}

	again, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("LoadOrCreate(%s) second = created %v, %v; want loaded, nil", path, created, err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	tok := mustSign(t, ks, testClaims())
	for name, k := range map[string]*KeySet{"LoadOrCreate": again, "Load": loaded} {
		if k.SigningKeyID() != ks.SigningKeyID() {
			t.Errorf("%s: kid %q, want %q", name, k.SigningKeyID(), ks.SigningKeyID())
		}
		if got := mustSign(t, k, testClaims()); got != tok {
			t.Errorf("%s: Sign = %q, want the creator's %q", name, got, tok)
		}
		if _, err := k.Verify(tok, testEvent, t0); err != nil {
			t.Errorf("%s: Verify(creator's pass): %v", name, err)
		}
	}

	var kf struct {
		Keys []map[string]string `json:"keys"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatalf("key file is not the documented JSON: %v\n%s", err, data)
	}
	if len(kf.Keys) != 1 || kf.Keys[0]["kid"] != ks.SigningKeyID() || len(kf.Keys[0]["private_key"]) != 43 || kf.Keys[0]["created_at"] == "" {
		t.Errorf("key file = %s, want one key with kid, created_at and a 43-character private_key", data)
	}
}

func TestLoadOrCreateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreate(filepath.Join(dir, "missing", "keys.json")); err == nil {
		t.Error("LoadOrCreate in a missing directory: no error")
	}
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `{"keys":[]}`)
	if ks, created, err := LoadOrCreate(bad); err == nil || ks != nil || created {
		t.Errorf("LoadOrCreate(invalid file) = %v, %v, %v; want an error and no key set", ks, created, err)
	}
	if data, _ := os.ReadFile(bad); string(data) != `{"keys":[]}` {
		t.Errorf("LoadOrCreate rewrote an invalid key file: %s", data)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "keys.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadInsecureMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, _, err := LoadOrCreate(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, load := range map[string]func() (*KeySet, error){
		"Load": func() (*KeySet, error) { return Load(path) },
		"LoadOrCreate": func() (*KeySet, error) {
			ks, _, err := LoadOrCreate(path)
			return ks, err
		},
	} {
		ks, err := load()
		var ime *InsecureModeError
		if !errors.As(err, &ime) || ime.Mode.Perm() != 0o644 || ime.Path != path {
			t.Errorf("%s(mode 0644) error = %v, want *InsecureModeError with mode 0644", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), path) {
			t.Errorf("%s(mode 0644) error %q does not name the file", name, err)
		}
		if ks == nil {
			t.Fatalf("%s(mode 0644) returned no KeySet along with %v", name, err)
		}
		if _, err := ks.Verify(mustSign(t, ks, testClaims()), testEvent, t0); err != nil {
			t.Errorf("%s(mode 0644) KeySet does not work: %v", name, err)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	const seed = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	tests := []struct {
		name, data string
	}{
		{"empty", ``},
		{"not JSON", `keys`},
		{"no keys", `{"keys":[]}`},
		{"null keys", `{"keys":null}`},
		{"no kid", `{"keys":[{"private_key":"` + seed + `"}]}`},
		{"no private key", `{"keys":[{"kid":"a"}]}`},
		{"short seed", `{"keys":[{"kid":"a","private_key":"` + seed[:40] + `"}]}`},
		{"padded seed", `{"keys":[{"kid":"a","private_key":"` + seed + `="}]}`},
		{"std base64 seed", `{"keys":[{"kid":"a","private_key":"` + strings.ReplaceAll(seed, "_", "/") + `"}]}`},
		{"duplicate kid", `{"keys":[{"kid":"a","private_key":"` + seed + `"},{"kid":"a","private_key":"` + seed + `"}]}`},
		{"unknown field", `{"keys":[{"kid":"a","private_key":"` + seed + `","privat_key":"x"}]}`},
		{"bad created_at", `{"keys":[{"kid":"a","created_at":"yesterday","private_key":"` + seed + `"}]}`},
		{"trailing data", `{"keys":[{"kid":"a","private_key":"` + seed + `"}]} {}`},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".json")
			writeFile(t, path, tt.data)
			ks, err := Load(path)
			if err == nil || ks != nil {
				t.Fatalf("Load(%s) = %v, %v; want an error", tt.data, ks, err)
			}
			if strings.Contains(err.Error(), seed[:20]) {
				t.Errorf("Load error quotes key material: %v", err)
			}
		})
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load(a directory): no error")
	}
}

func TestSecondKeyVerifies(t *testing.T) {
	a, b := generateKey(t0), generateKey(t0)
	dir := t.TempDir()
	both := filepath.Join(dir, "both.json")
	onlyB := filepath.Join(dir, "b.json")
	writeFile(t, both, string(encodeKeyFile([]privateKey{a, b})))
	writeFile(t, onlyB, string(encodeKeyFile([]privateKey{b})))

	ks, err := Load(both)
	if err != nil {
		t.Fatal(err)
	}
	ksB, err := Load(onlyB)
	if err != nil {
		t.Fatal(err)
	}
	if ks.SigningKeyID() != a.kid {
		t.Errorf("SigningKeyID = %q, want the first key %q", ks.SigningKeyID(), a.kid)
	}
	byA := mustSign(t, ks, testClaims())
	byB := mustSign(t, ksB, testClaims())
	if _, err := ks.Verify(byA, testEvent, t0); err != nil {
		t.Errorf("Verify(pass of the first key): %v", err)
	}
	if _, err := ks.Verify(byB, testEvent, t0); err != nil {
		t.Errorf("Verify(pass of the second key): %v", err)
	}
	var ve *VerifyError
	if _, err := ksB.Verify(byA, testEvent, t0); !errors.As(err, &ve) || ve.Reason != ReasonUnknownKey {
		t.Errorf("KeySet without the first key: Verify = %v, want %q", err, ReasonUnknownKey)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	const n = 8
	kids := make(chan string, n)
	created := make(chan bool, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ks, c, err := LoadOrCreate(path)
			if err != nil {
				t.Errorf("LoadOrCreate: %v", err)
				return
			}
			kids <- ks.SigningKeyID()
			created <- c
		}()
	}
	wg.Wait()
	close(kids)
	close(created)
	first := <-kids
	for kid := range kids {
		if kid != first {
			t.Errorf("concurrent LoadOrCreate gave kids %q and %q, want one key", first, kid)
		}
	}
	var creators int
	for c := range created {
		if c {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d calls reported creating the file, want 1", creators)
	}
}
