/// The embedding CSV written by `lightly.utils.save_embeddings` and uploaded by
/// `ApiWorkflowClient.upload_embeddings` (docs/protocol.md §8): parsing, validation and writing.
///
/// The format is Python's `csv` "excel" dialect: `,` separators, `"` quoting only when needed
/// (doubled quotes inside), `\n` or `\r\n` line endings. The header names the columns:
/// `filenames`, `embedding_0 … embedding_{d−1}` and optionally `labels`, in any order; other
/// columns are kept verbatim so the file can be re-emitted as uploaded.
///
/// ```swift
/// let parsed = try bytes.withUnsafeBytes { try EmbeddingCSV.parse($0) }
/// let inMappingOrder = try parsed.reordered(toMapping: dataset.fileNames)
/// let csv = inMappingOrder.csvBytes()        // what readCSVUrl serves
/// ```
public enum EmbeddingCSV {
    /// Caps on the work and memory one upload may cause. Exceeding one is a validation error.
    public struct Limits: Sendable, Hashable {
        /// Most header columns accepted.
        public var maxColumns: Int
        /// Most `embedding_<k>` columns accepted (and the largest k + 1).
        public var maxDimension: Int
        /// Most data rows accepted.
        public var maxRows: Int
        /// Longest field accepted, in bytes, without quotes.
        public var maxFieldLength: Int
        /// Most floats (rows × dimension) accepted: bounds the result's memory (4 bytes each).
        public var maxValues: Int

        /// - Parameters: see the properties; defaults are generous for real embeddings.
        public init(maxColumns: Int = 65_792, maxDimension: Int = 65_536, maxRows: Int = 10_000_000,
                    maxFieldLength: Int = 65_536, maxValues: Int = 1 << 28) {
            self.maxColumns = maxColumns
            self.maxDimension = maxDimension
            self.maxRows = maxRows
            self.maxFieldLength = maxFieldLength
            self.maxValues = maxValues
        }

        /// 65,792 columns, dimension 65,536, 10 M rows, 64 KiB fields, 2^28 floats (1 GiB).
        public static let `default` = Limits()
    }
}

/// Why an embedding CSV was rejected. `message` is written for the uploader and is meant to
/// be sent back verbatim in a 400 response body.
public struct EmbeddingCSVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of problem, for tests and metrics.
    public enum Kind: String, Sendable, Hashable {
        /// No bytes, or only a BOM and line breaks.
        case empty
        /// Missing `filenames` or `embedding_<k>` columns, duplicate or malformed names.
        case header
        /// A configured limit (`EmbeddingCSV.Limits`) was exceeded.
        case limit
        /// A row with more or fewer fields than the header, or an empty line inside the data.
        case columnCount
        /// Unterminated quotes, a bare `"` or junk after a closing quote, a bare `\r`.
        case quoting
        /// A filename, value or column name that is not valid UTF-8.
        case encoding
        /// An embedding value that is not a decimal number.
        case number
        /// An embedding value that is `inf`/`nan` or outside the float32 range.
        case nonFinite
        /// A `labels` value that is not an integer.
        case label
        /// An empty filename.
        case filename
        /// The same filename on two rows.
        case duplicateFilename
        /// The CSV's filenames differ from the dataset's (`reordered(toMapping:)`).
        case mappingMismatch
    }

    /// The class of problem.
    public var kind: Kind
    /// 1-based physical line where the offending row (or field) starts, when known.
    public var line: Int?
    /// 1-based data row (the header is row 0), when known.
    public var row: Int?
    /// Human-readable, including the location, e.g.
    /// `row 17 (line 18): column embedding_3: "abc" is not a number`.
    public var message: String

    /// - Parameters: see the properties.
    public init(kind: Kind, line: Int? = nil, row: Int? = nil, message: String) {
        self.kind = kind
        self.line = line
        self.row = row
        self.message = message
    }

    /// The error code for the API error body (docs/protocol.md §4).
    public var code: String { kind == .mappingMismatch ? "EMBEDDING_CSV_MISMATCH" : "EMBEDDING_CSV_INVALID" }

    /// The human-readable message.
    public var description: String { message }
}

/// The columns of an embedding CSV as uploaded.
public struct EmbeddingCSVHeader: Sendable, Hashable {
    /// All column names, in file order.
    public internal(set) var names: [String]
    /// Position of `filenames`.
    public internal(set) var filenameColumn: Int
    /// Position of `labels`, if present.
    public internal(set) var labelColumn: Int?
    /// Position of the column of embedding component j, for j in 0..<dimension (ordered by
    /// the k of `embedding_<k>`, which need not be contiguous nor adjacent).
    public internal(set) var embeddingColumns: [Int]
    /// Positions of all other columns, in file order.
    public internal(set) var extraColumns: [Int]

    /// The canonical header written by `save_embeddings`.
    /// - Parameters:
    ///   - dimension: number of `embedding_<k>` columns, k = 0 ..< dimension.
    ///   - hasLabels: whether a trailing `labels` column is present.
    public static func standard(dimension: Int, hasLabels: Bool) -> EmbeddingCSVHeader {
        var names = ["filenames"]
        names.reserveCapacity(dimension + 2)
        for k in 0..<dimension { names.append("embedding_\(k)") }
        if hasLabels { names.append("labels") }
        return EmbeddingCSVHeader(names: names, filenameColumn: 0,
                                  labelColumn: hasLabels ? dimension + 1 : nil,
                                  embeddingColumns: Array(1 ..< dimension + 1),
                                  extraColumns: [])
    }
}

/// A validated embedding CSV: n rows of a d-dimensional matrix with their filenames.
public struct ParsedEmbeddingCSV: Sendable, Hashable {
    /// The filename of each row, in row order; non-empty and unique.
    public internal(set) var filenames: [String]
    /// d, the number of embedding columns (≥ 1).
    public internal(set) var dimension: Int
    /// The n×d matrix, row-major, in row order. Every value is finite.
    public internal(set) var values: [Float]
    /// The `labels` column, if the file had one.
    public internal(set) var labels: [Int]?
    /// The columns as uploaded, used to re-emit the file unchanged.
    public internal(set) var header: EmbeddingCSVHeader
    /// Values of the extra columns: `extraValues[c][row]` for `header.extraColumns[c]`.
    public internal(set) var extraValues: [[String]]

    /// n, the number of data rows.
    public var rowCount: Int { filenames.count }

    /// Creates a matrix to write with `csvBytes()`. Use `EmbeddingCSVHeader.standard` unless
    /// re-emitting a parsed file's own header.
    /// - Parameters: see the properties. Shapes must agree (checked with `precondition`).
    public init(filenames: [String], dimension: Int, values: [Float], labels: [Int]?,
                header: EmbeddingCSVHeader, extraValues: [[String]]) {
        precondition(values.count == filenames.count * dimension, "values must be n×d")
        precondition(labels == nil || labels?.count == filenames.count, "one label per row")
        precondition(header.embeddingColumns.count == dimension, "header must have `dimension` embedding columns")
        precondition((header.labelColumn == nil) == (labels == nil), "labels iff the header has a labels column")
        precondition(extraValues.count == header.extraColumns.count
                     && extraValues.allSatisfy { $0.count == filenames.count }, "one value per row for each extra column")
        let columns = [header.filenameColumn] + header.embeddingColumns + (header.labelColumn.map { [$0] } ?? []) + header.extraColumns
        precondition(columns.count == header.names.count && Set(columns) == Set(header.names.indices),
                     "every header column has exactly one role")
        self.filenames = filenames
        self.dimension = dimension
        self.values = values
        self.labels = labels
        self.header = header
        self.extraValues = extraValues
    }
}
