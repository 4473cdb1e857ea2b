package main

import (
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const kubeconfigName = "keyward-testenv"

// writeKubeconfig embeds the credentials, so the file stays usable when copied elsewhere.
// Its content depends only on the state directory, so it is valid across restarts.
func writeKubeconfig(path, server string, k pkiFiles) error {
	ca, err := os.ReadFile(k.CACert)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(k.AdminCert)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(k.AdminKey)
	if err != nil {
		return err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters[kubeconfigName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	config.AuthInfos[kubeconfigName] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	config.Contexts[kubeconfigName] = &clientcmdapi.Context{Cluster: kubeconfigName, AuthInfo: kubeconfigName}
	config.CurrentContext = kubeconfigName
	data, err := clientcmd.Write(*config)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}
