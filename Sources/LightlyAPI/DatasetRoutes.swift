import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    func registerDatasetRoutes(_ r: inout Router) {}
}
