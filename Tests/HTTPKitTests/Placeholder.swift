import Testing

@Test func placeholder_HTTPKitTests() {}
