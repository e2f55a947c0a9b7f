import type { Command } from 'commander';
import { authFromEnv } from '../../io/dicomweb/auth.js';
import { DicomwebClient } from '../../io/dicomweb/client.js';
import { searchStudies, type StudySummary } from '../../io/dicomweb/search.js';

interface SearchOptions {
  patient?: string;
  study?: string;
  modality?: string;
  json?: boolean;
  ca?: string;
}

const date = (d: string): string => (/^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : d || '-');

function printStudies(studies: StudySummary[]): void {
  const out: string[] = [];
  for (const st of studies) {
    out.push(`study ${st.studyInstanceUid}  ${date(st.studyDate)}  patient ${st.patientId || '-'} (${st.patientName || 'no name'})  ${st.description}`);
    for (const se of st.series) {
      const dims = se.columns !== undefined ? `  ${se.columns}x${se.rows}` : '';
      out.push(`  series #${se.seriesNumber ?? '-'} ${se.modality}  ${se.instances ?? '?'} instances${dims}  ${se.description || '(no description)'}`);
      out.push(`    ${se.url}`);
    }
  }
  out.push(`${studies.length} stud${studies.length === 1 ? 'y' : 'ies'}, ${studies.reduce((n, s) => n + s.series.length, 0)} series`);
  process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  const dw = program
    .command('dicomweb')
    .description('talk to a PACS over DICOMweb (credentials from SAB_DICOMWEB_TOKEN, or SAB_DICOMWEB_USER and SAB_DICOMWEB_PASSWORD)');
  dw.command('search')
    .description('list studies and their series (QIDO-RS); each series URL is a valid input of sab segment and sab info')
    .argument('<base-url>', 'DICOMweb root, e.g. http://pacs:8042/dicom-web')
    .option('--patient <id>', 'PatientID to match')
    .option('--study <uid>', 'StudyInstanceUID to match')
    .option('--modality <m>', 'only series of this modality (e.g. MR)')
    .option('--ca <file>', 'extra CA certificate (PEM) for https')
    .option('--json', 'print JSON')
    .action(async (base: string, opts: SearchOptions) => {
      const client = new DicomwebClient(base, { auth: authFromEnv(base), ...(opts.ca ? { ca: opts.ca } : {}) });
      const studies = await searchStudies(client, {
        ...(opts.patient ? { patientId: opts.patient } : {}),
        ...(opts.study ? { studyUid: opts.study } : {}),
        ...(opts.modality ? { modality: opts.modality } : {}),
      });
      const shown = opts.modality ? studies.filter((s) => s.series.length > 0) : studies;
      if (opts.json) process.stdout.write(JSON.stringify(shown, null, 1) + '\n');
      else printStudies(shown);
    });
}
