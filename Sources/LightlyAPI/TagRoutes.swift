import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    func registerTagRoutes(_ r: inout Router) {}
}
