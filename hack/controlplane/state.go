package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// state is the locked state directory. The lock is an flock, so the kernel releases it when
// the process dies however it dies, and a second instance on the same directory fails fast.
type state struct {
	dir  string
	lock *os.File
}

func openState(dir string) (*state, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "controlplane.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("another keyward-controlplane is using %s: %w", dir, err)
	}
	s := &state{dir: dir, lock: lock}
	if err := writeFileAtomic(s.pidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func (s *state) release() {
	os.Remove(s.pidFile())
	s.lock.Close()
}

func (s *state) pidFile() string        { return filepath.Join(s.dir, "controlplane.pid") }
func (s *state) pkiDir() string         { return filepath.Join(s.dir, "pki") }
func (s *state) portsFile() string      { return filepath.Join(s.dir, "ports.json") }
func (s *state) etcdDir() string        { return filepath.Join(s.dir, "etcd") }
func (s *state) kubeconfigFile() string { return filepath.Join(s.dir, "kubeconfig") }

// writeFileAtomic replaces path in one step, so a reader never sees half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
