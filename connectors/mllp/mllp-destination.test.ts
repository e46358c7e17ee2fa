import { describeMllpDestination } from './mllp-destination.contract.js';

describeMllpDestination('embedded');
