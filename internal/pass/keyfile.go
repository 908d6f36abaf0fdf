package pass

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// keyFile is the JSON of a key file (see the package documentation).
// Unknown fields are refused, so that a misspelt field is not silently
// ignored.
type keyFile struct {
	Keys []keyFileEntry `json:"keys"`
}

type keyFileEntry struct {
	KID        string    `json:"kid"`
	CreatedAt  time.Time `json:"created_at"`
	PrivateKey string    `json:"private_key"`
}

// maxKeyFileSize bounds what Load reads; a key takes about 130 bytes.
const maxKeyFileSize = 1 << 20

// InsecureModeError reports a key file that users other than its owner may
// access. Load and LoadOrCreate return it together with a usable KeySet: a
// caller that stops at any error refuses the file (as ssh does), and one
// that accepts the risk, for example for a secret mounted read-only into a
// container, can check for it with errors.As and log a warning instead.
type InsecureModeError struct {
	Path string
	Mode fs.FileMode
}

func (e *InsecureModeError) Error() string {
	return fmt.Sprintf("pass: key file %s has mode %#o: other users can access it (chmod 600)", e.Path, e.Mode.Perm())
}

// Load reads the KeySet of the key file at path, which must exist.
//
// If the file is accessible by its group or by others, Load returns the
// KeySet together with an *InsecureModeError (see there). Any other error
// comes with a nil KeySet; a missing file gives an error matching
// fs.ErrNotExist.
func Load(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pass: load key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pass: load key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pass: load key file %s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("pass: load key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("pass: load key file %s: larger than %d bytes", path, maxKeyFileSize)
	}
	keys, err := decodeKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("pass: load key file %s: %w", path, err)
	}
	ks, err := newKeySet(keys)
	if err != nil {
		return nil, fmt.Errorf("pass: load key file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		return ks, &InsecureModeError{Path: path, Mode: fi.Mode()}
	}
	return ks, nil
}

// LoadOrCreate reads the KeySet of the key file at path like Load, or, if
// there is no such file, creates one with a single fresh key and reports
// created. The directory must exist.
//
// The file appears atomically and complete, with mode 0600: it is written
// under a temporary name, synced, and then linked to path, which fails
// rather than replaces a file that appeared in the meantime. If another
// process created the file first, LoadOrCreate loads that file instead, so
// every process that starts on one path ends up with the same keys.
func LoadOrCreate(path string) (ks *KeySet, created bool, err error) {
	ks, err = Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return ks, false, err
	}
	k := generateKey(time.Now())
	ks, err = newKeySet([]privateKey{k})
	if err != nil {
		return nil, false, fmt.Errorf("pass: create key file: %w", err)
	}
	err = createFile(path, encodeKeyFile([]privateKey{k}))
	if errors.Is(err, fs.ErrExist) {
		ks, err = Load(path)
		return ks, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("pass: create key file: %w", err)
	}
	return ks, true, nil
}

// createFile makes a file at path holding data, with mode 0600, atomically
// and only if there is no file at path. It reports an error matching
// fs.ErrExist if there is one.
func createFile(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // the temporary name goes either way
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// generateKey returns a fresh key with a random kid of 96 bits.
func generateKey(now time.Time) privateKey {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	var id [12]byte
	rand.Read(id[:]) // never fails (crypto/rand documents it)
	return privateKey{
		kid:       base64.RawURLEncoding.EncodeToString(id[:]),
		createdAt: now.UTC().Truncate(time.Second),
		key:       key,
	}
}

func encodeKeyFile(keys []privateKey) []byte {
	var kf keyFile
	for _, k := range keys {
		kf.Keys = append(kf.Keys, keyFileEntry{
			KID:        k.kid,
			CreatedAt:  k.createdAt,
			PrivateKey: base64.RawURLEncoding.EncodeToString(k.key.Seed()),
		})
	}
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		panic(err) // strings and times within year 0..9999 always encode
	}
	return append(b, '\n')
}

// decodeKeyFile parses a key file. Its errors never quote key material.
func decodeKeyFile(data []byte) ([]privateKey, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if len(kf.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	keys := make([]privateKey, len(kf.Keys))
	for i, e := range kf.Keys {
		if e.KID == "" {
			return nil, fmt.Errorf("key %d: no kid", i)
		}
		seed, err := base64.RawURLEncoding.Strict().DecodeString(e.PrivateKey)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("key %q: private_key is not %d bytes of unpadded base64url", e.KID, ed25519.SeedSize)
		}
		keys[i] = privateKey{kid: e.KID, createdAt: e.CreatedAt, key: ed25519.NewKeyFromSeed(seed)}
	}
	return keys, nil
}
