//! The simulated kube-controller-manager and kubelet: Deployments get Pods that become ready.
