resource "kubernetes_deployment" "app" {
  spec {
    container {
      image = "ghcr.io/org/app:1.1.0" // {"$imagepolicy": "apps:app"}
      name  = "app"
    }
    sidecar_image = "ghcr.io/org/app:1.1.0" # {"$imagepolicy": "apps:app"}
  }
}
