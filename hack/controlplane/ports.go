package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// ports are chosen once and kept in the state directory, so restarts serve the same address.
type ports struct {
	APIServer  int `json:"apiserver"`
	EtcdClient int `json:"etcdClient"`
	EtcdPeer   int `json:"etcdPeer"`
}

func (p ports) serverURL() string { return fmt.Sprintf("https://127.0.0.1:%d", p.APIServer) }

func ensurePorts(path string) (ports, error) {
	var p ports
	data, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return p, err
	}
	free, err := freeLoopbackPorts(3)
	if err != nil {
		return p, err
	}
	p = ports{APIServer: free[0], EtcdClient: free[1], EtcdPeer: free[2]}
	data, err = json.MarshalIndent(p, "", "  ")
	if err != nil {
		return p, err
	}
	return p, writeFileAtomic(path, append(data, '\n'), 0o644)
}

// freeLoopbackPorts holds all listeners open until every port is chosen, so they differ.
func freeLoopbackPorts(n int) ([]int, error) {
	found := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		found = append(found, l.Addr().(*net.TCPAddr).Port)
	}
	return found, nil
}
