import Testing

@Test func placeholder_LightlyAPITests() {}
