import Testing

@Test func placeholder_LightlyClientTests() {}
