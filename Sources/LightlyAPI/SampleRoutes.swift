import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    func registerSampleRoutes(_ r: inout Router) {}
}
