import Testing

@Test func placeholder_LightlyCoreTests() {}
